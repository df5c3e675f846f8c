/* pace.h - the one knob that sets how fast every lesson runs.
 *
 * The seed posts sleep a second between steps so a person can watch.  Here
 * a "tick" is TICK_MS milliseconds, read from the environment:
 *
 *     ./writer_reader              # 1000 ms ticks, human pace
 *     TICK_MS=0 ./writer_reader    # no pauses at all (the tests do this)
 *
 * A pause only sets the pace.  No lesson uses a pause to put events in
 * order: that is always done by a lock, a handshake, a queue or a join.
 */
#ifndef PACE_H
#define PACE_H

/* The tick length in milliseconds: TICK_MS, or 1000 when unset.  A value
 * that is not a whole number from 0 to 60000 ends the program with an
 * error naming TICK_MS. */
long pace_tick_ms(void);

/* Sleep for `ticks` ticks (fractions allowed: 0.5 is half a tick). */
void pace_wait(double ticks);

#endif
