/* decode_request.c - the fuzz target for the manager's request decoder.
 *
 * libFuzzer (clang -fsanitize=fuzzer,address; `make fuzz`) calls
 * LLVMFuzzerTestOneInput with byte strings it mutates, looking for one that
 * makes mgr_decode_request() read out of bounds, crash or hang.  Every
 * input that decodes must also survive the round trip: encode, decode
 * again, same request.
 *
 * Under gcc, replay.c gives this file a main() that feeds it the recorded
 * requests in tests/fuzz/corpus/, as an ordinary test.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mgr_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mgr_request req, again;
    static uint8_t frame[4 + MGR_FRAME_MAX];
    char why[128];

    if (mgr_decode_request(data, size, &req, why, sizeof why) == -1)
        return 0; /* refused, with a reason: that is fine */
    size_t n = mgr_encode_request(&req, frame, sizeof frame);
    if (n != size + 4 || memcmp(frame + 4, data, size) != 0 ||
        mgr_decode_request(frame + 4, n - 4, &again, why, sizeof why) == -1)
        abort(); /* a request that decodes must encode back to itself */
    return 0;
}
