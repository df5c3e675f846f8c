# Makefile - the one entry point of the tutorial.  `make help` lists targets.
#
# Every lesson folder lessons/NN_name/ holds one or more programs, one .c
# file each; solutions/NN_name/ holds the same files, solved.  Each program
# is built from its .c file and the helpers in common/ into
#
#     build/lessons/NN_name/PROG      the learner's exercise
#     build/solutions/NN_name/PROG    the solution
#
# and the sanitizer builds go to build/asan/, build/ubsan/ and build/tsan/,
# so switching between them never needs a `make clean`.

# Build with one job per CPU unless told otherwise (make -j1 to undo).  Only
# the top-level make says so; a make it starts shares its jobserver.
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

CC       ?= cc
CFLAGS   ?= -O2 -g
# _GNU_SOURCE: POSIX plus the Linux extensions the lessons teach
# (MAP_ANONYMOUS, SO_PEERCRED and struct ucred, memfd_create).
CPPFLAGS += -D_GNU_SOURCE -Icommon
WARN     := -std=c11 -Wall -Wextra -Werror
LDLIBS   += -pthread
BUILD    ?= build

# Pace of the programs in milliseconds per tick for `make run`; the
# programs' own default (1000, as in the Python posts) when left empty.
TICK_MS  ?=
# Restrict run/check/hint/test to one lesson: LESSON=02 or LESSON=02_threads_mutex
LESSON   ?=
# The learner's loop: PROG=name (one program of the lesson), LEVEL=N (a hint
# tier), ALL=1 (reset every exercise), FORCE=1 (compare before it passes),
# POLL=1 (make watch polls instead of using inotify).
PROG     ?=
LEVEL    ?=
ALL      ?=
FORCE    ?=
POLL     ?=
# More Python interpreters for lesson 11's interoperability tests, beside
# python3 and the newest 3.12+ found (PYTHONS="python3.13 /opt/py/bin/python3")
PYTHONS  ?=

LESSONS  := $(sort $(notdir $(wildcard lessons/[0-9][0-9]_*)))
EX_SRC   := $(sort $(wildcard lessons/[0-9][0-9]_*/*.c))
SOL_SRC  := $(sort $(wildcard solutions/[0-9][0-9]_*/*.c))
COMMON_SRC := $(sort $(wildcard common/*.c))

# Programs whose tests also need a ThreadSanitizer build (lesson 02 proves
# its race with TSan), listed as NN_name/PROG.
TSAN_TESTED := 02_threads_mutex/threads_mutex
TSAN_TESTED := $(foreach p,$(TSAN_TESTED),$(if $(wildcard lessons/$(p).c),$(p)))

SAN_asan  := -fsanitize=address -fno-omit-frame-pointer
SAN_ubsan := -fsanitize=undefined -fno-sanitize-recover=all
SAN_tsan  := -fsanitize=thread

SUPERVISE := $(BUILD)/tools/supervise

# Lesson 08 passes descriptors in control messages: `*(int *)CMSG_DATA(c)`
# is the classic mistake there (cmsg(3): the data need not be aligned), so
# its two programs refuse a cast that raises alignment (gcc needs =strict).
CAST_ALIGN := $(if $(findstring clang,$(shell $(CC) --version 2>/dev/null)),-Wcast-align,-Wcast-align=strict)
%/08_named_shm/memfd_send %/08_named_shm/memfd_recv: private WARN += $(CAST_ALIGN)

# Programs the tests use besides the lessons' (tests/tools/, tests/fuzz/).
TEST_TOOLS := manager_probe replay_requests stage_client mgr_relay fd_sender digest_vectors \
              mp_replay mp_examiner tcp_hostile

# progs(DIR): the programs of both trees and the test tools built under DIR
progs = $(patsubst %.c,$(1)/%,$(EX_SRC) $(SOL_SRC)) $(addprefix $(1)/tools/,$(TEST_TOOLS))
sol_progs = $(patsubst %.c,$(1)/%,$(SOL_SRC)) $(addprefix $(1)/tools/,$(TEST_TOOLS))

# variant(DIR, EXTRA_FLAGS): rules that build common/ and every program
# under DIR with EXTRA_FLAGS added to compiling and linking.
define variant
$(1)/common/%.o: common/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(WARN) $$(CFLAGS) $(2) -MMD -MP -c $$< -o $$@

$(1)/libcommon.a: $$(patsubst common/%.c,$(1)/common/%.o,$$(COMMON_SRC))
	$$(AR) rcs $$@ $$^

$(1)/lessons/%: lessons/%.c $(1)/libcommon.a
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(WARN) $$(CFLAGS) $(2) -MMD -MP -MF $$@.d $$(filter %.c,$$^) \
	    $(1)/libcommon.a $$(LDFLAGS) $(2) $$(LDLIBS) -o $$@

$(1)/solutions/%: solutions/%.c $(1)/libcommon.a
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(WARN) $$(CFLAGS) $(2) -MMD -MP -MF $$@.d $$(filter %.c,$$^) \
	    $(1)/libcommon.a $$(LDFLAGS) $(2) $$(LDLIBS) -o $$@

# Lesson 07's server is two files: the learner's mini_queue.c and a given
# part (lessons/07_manager_queue/given/), linked into one program.
$(1)/lessons/07_manager_queue/mini_queue $(1)/solutions/07_manager_queue/mini_queue: \
    lessons/07_manager_queue/given/mini_server.c lessons/07_manager_queue/given/mini_server.h
$(1)/lessons/07_manager_queue/mini_queue $(1)/solutions/07_manager_queue/mini_queue: \
    CPPFLAGS += -Ilessons/07_manager_queue/given

$(1)/tools/%: tests/tools/%.c $(1)/libcommon.a
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(WARN) $$(CFLAGS) $(2) -MMD -MP -MF $$@.d $$< \
	    $(1)/libcommon.a $$(LDFLAGS) $(2) $$(LDLIBS) -o $$@

$(1)/tools/replay_requests: tests/fuzz/replay.c tests/fuzz/decode_request.c $(1)/libcommon.a
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(WARN) $$(CFLAGS) $(2) $$(filter %.c,$$^) \
	    $(1)/libcommon.a $$(LDFLAGS) $(2) $$(LDLIBS) -o $$@
endef

$(eval $(call variant,$(BUILD),))
$(eval $(call variant,$(BUILD)/asan,$(SAN_asan)))
$(eval $(call variant,$(BUILD)/ubsan,$(SAN_ubsan)))
$(eval $(call variant,$(BUILD)/tsan,$(SAN_tsan)))

$(SUPERVISE): tests/tools/supervise.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $< $(LDFLAGS) -o $@

TSAN_PROGS := $(foreach p,$(TSAN_TESTED),$(BUILD)/tsan/lessons/$(p) $(BUILD)/tsan/solutions/$(p))

# exercise-NN_name: what `make check` builds for one lesson - its exercise
# programs and whatever its test runs besides (the suite builds it quietly).
CHECK_TOOLS := $(SUPERVISE) $(addprefix $(BUILD)/tools/,$(TEST_TOOLS))
$(foreach l,$(LESSONS),$(eval exercise-$(l): $(patsubst %.c,$(BUILD)/%,$(wildcard lessons/$(l)/*.c)) \
    $(filter $(BUILD)/tsan/lessons/$(l)/%,$(TSAN_PROGS)) $(CHECK_TOOLS)))
.PHONY: $(addprefix exercise-,$(LESSONS))

# make watch's file watcher (tests/tools/watch.c)
WATCH := $(BUILD)/tools/watch

# The suite driver gets everything it needs through the environment.
SUITE = BUILD='$(BUILD)' LESSON='$(LESSON)' TICK_MS='$(TICK_MS)' PROG='$(PROG)' \
        LEVEL='$(LEVEL)' ALL='$(ALL)' FORCE='$(FORCE)' PYTHONS='$(PYTHONS)' \
        MAKE='$(MAKE)' bash tests/suite.sh

.DEFAULT_GOAL := all

.PHONY: all help run test test-harness check hint list watch reset compare verify-exercises \
        asan ubsan tsan sanitizers bench fuzz shunit2 redis clean

## all: build every solution and exercise (the default)
all: $(call progs,$(BUILD)) $(SUPERVISE)

## run: run every solution in lesson order (LESSON=02 for one, WHICH=exercise for yours)
run: all
	@$(SUITE) run

## test: every lesson's test on the solutions, and the translations' check; ends "N passed, N failed"
test: all $(TSAN_PROGS) shunit2 redis
	@$(SUITE) test

## test-harness: the tests of make check, watch, reset, grade... themselves, on a fixture course (CI runs it)
test-harness: all $(WATCH) shunit2
	@ONLY_HARNESS=1 $(SUITE) test

## check: test your exercises from the first pending program on (LESSON=02 [PROG=name]: any)
check: shunit2 redis
	@+$(SUITE) check

## hint: the next hint tier for the program you are on (LEVEL=N: tier N; LESSON=, PROG=)
hint:
	@+$(SUITE) hint

## list: every lesson and program, done or pending, and where you are
list:
	@+$(SUITE) list

## watch: rerun the check on every save; keys n next, h hint, l list, x reset, q quit (POLL=1)
watch: shunit2
	@+$(MAKE) -s --no-print-directory $(WATCH) $(CHECK_TOOLS)
	@+$(WATCH) $(if $(POLL),--poll) lessons -- env $(SUITE)

## reset: restore an untouched exercise, keeping yours (LESSON=02 [PROG=name], or ALL=1)
reset:
	@+$(SUITE) reset

## compare: your exercise beside its solution, once it passes (LESSON=02 [PROG=name])
compare:
	@+$(SUITE) compare

## verify-exercises: prove every untouched exercise fails its test (CI runs it)
verify-exercises: all $(TSAN_PROGS) shunit2 redis
	@$(SUITE) verify

## grade: points for your exercises per test, lesson, total; JUnit, TAP, JSON in build/results/
## grade-all: grade a class: SUBMISSIONS=DIR (a folder or tarball each) -> build/results/class.csv
GRADE = BUILD='$(BUILD)' LESSON='$(LESSON)' MAKE='$(MAKE)' CC='$(CC)' CFLAGS='$(CFLAGS)' \
        TSAN_TESTED='$(TSAN_TESTED)' TEST_TOOLS='$(TEST_TOOLS)' bash tests/grade.sh
.PHONY: grade grade-all
grade grade-all: shunit2
	@+$(GRADE) $(if $(filter grade-all,$@),all '$(SUBMISSIONS)',one)

## asan, ubsan, tsan: the solutions' tests under Address-, UndefinedBehavior-, ThreadSanitizer
asan ubsan tsan: %: $(SUPERVISE) $(TSAN_PROGS) shunit2
	@$(MAKE) --no-print-directory $(call sol_progs,$(BUILD)/$*)
	@VARIANT=$* $(SUITE) test

## sanitizers: asan, ubsan and tsan one after the other
sanitizers: asan ubsan tsan

## bench: how fast is each way of sharing on this machine (and Python's, with python3)
bench: all
	@TMPDIR=$${TMPDIR:-/tmp} BENCH_PYTHON=lessons/10_measuring/bench.py \
	    $(BUILD)/solutions/10_measuring/bench
	@echo
	@echo "Lesson 11: the manager on TCP, and Redis (when redis-server is installed):"
	@TMPDIR=$${TMPDIR:-/tmp} $(BUILD)/solutions/11_beyond_one_machine/remote_bench

## fuzz: fuzz the manager's request decoder with libFuzzer (clang; FUZZ_SECONDS=30)
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
fuzz: $(BUILD)/fuzz/decode_request
	@rm -rf $(BUILD)/fuzz/corpus && mkdir -p $(BUILD)/fuzz/corpus
	@cp tests/fuzz/corpus/* $(BUILD)/fuzz/corpus/
	cd $(BUILD)/fuzz && ./decode_request -max_total_time=$(FUZZ_SECONDS) -max_len=4096 corpus

$(BUILD)/fuzz/decode_request: tests/fuzz/decode_request.c common/mgr_wire.c common/mgr_wire.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
	    tests/fuzz/decode_request.c common/mgr_wire.c -o $@

## shunit2: make sure the test library is installed (installs it when root)
shunit2:
	@bash tests/need_shunit2.sh

## redis: install redis-server for lesson 11 when root (its tests skip without it)
redis:
	@bash tests/need_redis.sh

## clean: remove build/
clean:
	rm -rf $(BUILD)

help:
	@echo "Targets (GNU make):"
	@sed -n 's/^## \([^:]*\): /  \1\t/p' $(MAKEFILE_LIST) | expand -t 22
	@echo "Variables: CC=clang  CFLAGS=...  LESSON=02  PROG=name  LEVEL=2  ALL=1  POLL=1"
	@echo "           CHECK_TIMEOUT=10 (seconds a program gets in make check)  WHICH=exercise  TICK_MS=0  BUILD=dir"
	@echo "Your progress is kept in .progress (git-ignored; make clean keeps it)."

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
