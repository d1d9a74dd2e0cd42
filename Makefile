# riskgate - one non-recursive Makefile, out-of-tree build.
#
#   make                      build build/riskgate and the test binaries
#   make test                 deps, unit tests (plain and ASan+UBSan), integration tests
#   make demo                 deps, local stack, one-minute demo with a summary
#   make bench                throughput/latency benchmark against the real local stack
#   make SANITIZE=address,undefined   build into build-asan/ with sanitizers
#   make SANITIZE=thread              build into build-tsan/
#   make V=1                  show the commands
#
# Every src/<stage>/*.c goes into build/libriskgate.a except src/app, which
# holds main(). Every tests/unit/test_*.c becomes build/tests/test_*.

CC      ?= cc
PKGS    := rdkafka hiredis libcjson yaml-0.1 openssl libmicrohttpd ck
SANITIZE ?=

ifeq ($(SANITIZE),)
  BUILD ?= build
  SANFLAGS :=
else ifeq ($(SANITIZE),thread)
  BUILD ?= build-tsan
  SANFLAGS := -fsanitize=thread
else
  BUILD ?= build-asan
  SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

ifeq ($(V),1)
  Q :=
else
  Q := @
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wno-missing-field-initializers -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE \
           -Iinclude $(PKG_CFLAGS) $(SANFLAGS)
LDFLAGS += -pie -Wl,-z,relro,-z,now $(SANFLAGS)
LIBS    := $(PKG_LIBS) -lm -lpthread

LIB_SRC   := $(sort $(wildcard src/core/*.c src/pipe/*.c src/ingest/*.c src/profile/*.c \
               src/feature/*.c src/model/*.c src/rules/*.c src/verdict/*.c src/replay/*.c src/gen/*.c))
APP_SRC   := $(sort $(wildcard src/app/*.c))
TEST_SRC  := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
APP_OBJ   := $(APP_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN  := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
LIBRG     := $(BUILD)/libriskgate.a
BIN       := $(BUILD)/riskgate

.PHONY: all test unit-test demo bench soak model deps clean

all: $(BIN) $(TEST_BIN) $(FUZZ_BIN) $(BENCH_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBRG): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(APP_OBJ) $(LIBRG)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(APP_OBJ) $(LIBRG) $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBRG) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIBRG) $(LIBS) -lcmocka

# Fuzz targets: with gcc they link a small driver that replays files or
# directories of inputs (tests/fuzz/corpus/*); with clang, FUZZ_ENGINE=libfuzzer.
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/driver.c $(LIBRG)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/driver.c $(LIBRG) $(LIBS)

# Benchmark helpers (bench/*.c): separate binaries, never in the product.
$(BUILD)/bench/%: bench/%.c $(LIBRG)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BENCH   $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBRG) $(LIBS)

deps:
	$(Q)./deploy/deps.sh

unit-test: $(TEST_BIN) $(FUZZ_BIN)
	$(Q)./tests/run-unit.sh $(BUILD)

test: deps
	$(Q)./tests/run-all.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./deploy/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./bench/run.sh

soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./bench/soak.sh

# Retrain the shipped default model from generated traffic (see models/README.md).
model: all
	$(Q)./models/build-default.sh

clean:
	rm -rf build build-asan build-tsan

-include $(LIB_OBJ:.o=.d) $(APP_OBJ:.o=.d)
