# Rill top-level Makefile.
#
#   make          build the kernel image, the initrd and the host tests
#   make run      boot Rill in QEMU on this terminal (serial console)
#   make test     every test (tools/runtests.py): host, self-test, kernel, in-OS,
#                 faults, ISO; ends with "N passed, M failed, K skipped"
#   make iso      GRUB rescue ISO booting the same kernel
#   make debug    QEMU halted with the GDB stub on :1234
#   make bench    benchmarks: guest instructions (TCG plugin) and wall time
#   make fuzz     libFuzzer runs of tests/fuzz/* (FUZZ_TIME seconds each)
#
# Sources are found by wildcard: a new .c or .S file under kernel/ joins the
# kernel, a new tests/host/test_*.c becomes a host test program.

BUILD      ?= build
CC         := gcc
LD         := ld
OBJCOPY    := objcopy
NM         := nm
PYTHON     := python3
QEMU       := qemu-system-x86_64

Q          ?= @
SMP        ?= 2
MEM        ?= 512M
APPEND     ?=

WARN       := -Wall -Wextra -Werror -Wno-unused-parameter -Wstrict-prototypes \
              -Wmissing-prototypes -Wshadow -Wpointer-arith
INCLUDES   := -Ikernel/include -Ilib/include -Iabi/include
KINCLUDES  := $(INCLUDES) -Ikernel/arch/x86_64/include

KCFLAGS    := -std=gnu11 -O2 -g -ffreestanding -fno-builtin -fno-stack-protector \
              -fno-pic -fno-pie -mcmodel=kernel -mno-red-zone -mno-mmx -mno-sse \
              -mno-sse2 -mno-avx -mgeneral-regs-only -fno-omit-frame-pointer \
              -fno-optimize-sibling-calls -fno-strict-aliasing -fno-common \
              -ffunction-sections -MMD -MP $(WARN) $(KINCLUDES) -D__RILL_KERNEL__
KASFLAGS   := -g -MMD -MP $(KINCLUDES) -D__RILL_KERNEL__ -D__ASSEMBLY__
KLDFLAGS   := -nostdlib -n -z max-page-size=0x1000 -z noexecstack \
              --no-warn-rwx-segments -T kernel/arch/x86_64/linker.ld

KERNEL_C   := $(sort $(shell find kernel -name '*.c')) $(sort $(wildcard lib/common/*.c))
KERNEL_S   := $(sort $(shell find kernel -name '*.S'))
KERNEL_OBJ := $(patsubst %,$(BUILD)/k/%.o,$(KERNEL_C) $(KERNEL_S))

# Portable code that also builds on the host for unit tests.
HOST_SRCS  := lib/common/format.c lib/common/cpio.c lib/common/elf.c kernel/mm/buddy.c kernel/mm/slab.c \
              kernel/core/timerheap.c kernel/acpi/acpi.c kernel/base/cmdline.c \
              kernel/ipc/ipc_core.c kernel/mm/radix.c tests/host/support.c servers/init/config.c
HOST_TESTS := $(patsubst tests/host/%.c,$(BUILD)/host/%,$(sort $(wildcard tests/host/test_*.c)))
HOST_CFLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=all -Wall -Wextra -Werror -Wno-unused-parameter \
              $(INCLUDES) -DRILL_HOST_TEST $(shell pkg-config --cflags check 2>/dev/null)
HOST_LIBS  := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

KERNEL_ELF := $(BUILD)/kernel.elf
KERNEL_BIN := $(BUILD)/rill.bin
INITRD     := $(BUILD)/initrd.cpio
ISO        := $(BUILD)/rill.iso


.PHONY: user fuzz
.PHONY: all kernel host-tests run test test-host test-kernel iso debug deps clean bench
all: kernel $(INITRD) host-tests

kernel: $(KERNEL_BIN)

deps:
	@bash tools/deps.sh

# --- kernel ---------------------------------------------------------------

$(BUILD)/k/%.c.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(KCFLAGS) -c $< -o $@

$(BUILD)/k/%.S.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	$(Q)$(CC) $(KASFLAGS) -c $< -o $@

# Two links: the first fixes every text address, the second adds the symbol
# table (placed after all code and data, so nothing moves). The check after
# the second link proves the addresses did not move.
$(BUILD)/ksyms0.S:
	@mkdir -p $(BUILD)
	$(Q)$(PYTHON) tools/gensyms.py /dev/null > $@

$(BUILD)/ksyms0.o: $(BUILD)/ksyms0.S
	$(Q)$(CC) $(KASFLAGS) -c $< -o $@

$(BUILD)/kernel0.elf: $(KERNEL_OBJ) $(BUILD)/ksyms0.o kernel/arch/x86_64/linker.ld
	@echo "  LD      $@"
	$(Q)$(LD) $(KLDFLAGS) -o $@ $(KERNEL_OBJ) $(BUILD)/ksyms0.o

$(BUILD)/ksyms.S: $(BUILD)/kernel0.elf tools/gensyms.py
	$(Q)$(NM) -n $< | $(PYTHON) tools/gensyms.py - > $@

$(BUILD)/ksyms.o: $(BUILD)/ksyms.S
	$(Q)$(CC) $(KASFLAGS) -c $< -o $@

$(KERNEL_ELF): $(KERNEL_OBJ) $(BUILD)/ksyms.o
	@echo "  LD      $@"
	$(Q)$(LD) $(KLDFLAGS) -o $@ $(KERNEL_OBJ) $(BUILD)/ksyms.o
	@$(NM) -n $(BUILD)/kernel0.elf | grep -i ' t ' > $(BUILD)/syms0.txt
	@$(NM) -n $@ | grep -i ' t ' > $(BUILD)/syms1.txt
	@cmp -s $(BUILD)/syms0.txt $(BUILD)/syms1.txt || \
		{ echo "symbol table moved text addresses"; rm -f $@; exit 1; }

$(KERNEL_BIN): $(KERNEL_ELF)
	$(Q)$(OBJCOPY) -O binary $< $@

# --- native user programs ---------------------------------------------------
#
# lib/user (runtime) + lib/common (portable code) make build/u/librill.a;
# mk/program.mk says which programs there are (servers/, drivers/, user/)
# and links each. They land in build/initrd-root, which is merged with
# initrd/ into the initrd.

UCFLAGS    := -std=gnu11 -O2 -g -ffreestanding -fno-stack-protector -fno-pie \
              -fno-asynchronous-unwind-tables -fno-omit-frame-pointer -MMD -MP \
              $(WARN) $(INCLUDES) -D__RILL_USER__
ULDFLAGS   := -nostdlib -static -no-pie -Wl,-z,max-page-size=4096 \
              -Wl,-z,separate-code -Wl,--build-id=none -Wl,-z,noexecstack
ULIB_SRC   := $(filter-out lib/user/testmain.c,$(sort $(wildcard lib/user/*.c lib/user/*.S))) \
              $(sort $(wildcard lib/common/*.c))
ULIB_OBJ   := $(patsubst %,$(BUILD)/u/%.o,$(ULIB_SRC))
ULIB       := $(BUILD)/u/librill.a
UCRT0      := $(BUILD)/u/lib/user/crt0.S.o
UTESTMAIN  := $(BUILD)/u/lib/user/testmain.c.o
ROOT       := $(BUILD)/initrd-root
UPROGS     :=

$(BUILD)/u/%.c.o: %.c
	@mkdir -p $(dir $@)
	@echo "  UCC     $<"
	$(Q)$(CC) $(UCFLAGS) -c $< -o $@

$(BUILD)/u/%.S.o: %.S
	@mkdir -p $(dir $@)
	@echo "  UAS     $<"
	$(Q)$(CC) -g -MMD -MP $(INCLUDES) -D__ASSEMBLY__ -c $< -o $@

$(ULIB): $(filter-out $(UCRT0),$(ULIB_OBJ))
	$(Q)rm -f $@ && ar rcs $@ $^

include mk/program.mk

user: $(UPROGS)

# --- initrd -----------------------------------------------------------------

INITRD_FILES := $(shell find initrd -type f 2>/dev/null)
$(INITRD): $(INITRD_FILES) $(UPROGS) tools/mkcpio.py
	@mkdir -p $(ROOT)
	$(Q)cp -r initrd/. $(ROOT)/
	$(PYTHON) tools/mkcpio.py $@ $(ROOT)

# --- host unit tests --------------------------------------------------------

# Fuzz targets (tests/fuzz/fuzz_*.c): a deterministic smoke run of each
# (-DFUZZ_STANDALONE, fixed seed) is part of make test; `make fuzz` runs the
# libFuzzer build of each for FUZZ_TIME seconds.
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SMOKE := $(patsubst tests/fuzz/%.c,$(BUILD)/host/%_smoke,$(FUZZ_SRCS))
FUZZ_TIME  ?= 60

# The runner's self-test fixtures (tests/selftest/test_*.c): a separate
# directory, so the normal host run never sees their deliberate failures.
HOST_SELFTEST := $(patsubst tests/selftest/%.c,$(BUILD)/host-selftest/%,$(sort $(wildcard tests/selftest/test_*.c)))

host-tests: $(HOST_TESTS) $(FUZZ_SMOKE) $(HOST_SELFTEST)

$(BUILD)/host-selftest/%: tests/selftest/%.c tests/host/support.c tests/host/support.h
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $<"
	$(Q)$(CC) $(HOST_CFLAGS) -Itests/host -o $@ $< tests/host/support.c $(HOST_LIBS)

$(BUILD)/host/fuzz_%_smoke: tests/fuzz/fuzz_%.c $(HOST_SRCS) $(wildcard kernel/include/kernel/*.h)
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $< (smoke)"
	$(Q)$(CC) $(HOST_CFLAGS) -DFUZZ_STANDALONE -o $@ $< $(HOST_SRCS) $(HOST_LIBS)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(HOST_SRCS)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $<"
	$(Q)clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined $(INCLUDES) \
		-I$(BUILD)/gen -DRILL_HOST_TEST -o $@ $< kernel/ipc/ipc_core.c $(PROTO_C)

fuzz: deps $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
	@for f in $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS)); do \
		mkdir -p $$f.corpus; echo "  running $$f for $(FUZZ_TIME) s"; \
		$$f -max_total_time=$(FUZZ_TIME) $$f.corpus || exit 1; done

$(BUILD)/host/%: tests/host/%.c $(HOST_SRCS) $(wildcard kernel/include/kernel/*.h)
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $<"
	$(Q)$(CC) $(HOST_CFLAGS) -o $@ $< $(HOST_SRCS) $(HOST_LIBS)

# --- protocols ----------------------------------------------------------------
#
# Each protocols/<name>/<name>.proto becomes $(BUILD)/gen/proto/<name>.{h,c}
# (tools/protogen.py, docs/protocols.md): programs include <proto/<name>.h>,
# the codecs join librill.a and every host test. The included stamp makes
# make generate them before it compiles anything.

PROTO_DEFS := $(sort $(wildcard protocols/*/*.proto))
PROTO_DIR  := $(BUILD)/gen/proto
PROTO_H    := $(patsubst %,$(PROTO_DIR)/%.h,$(basename $(notdir $(PROTO_DEFS))))
PROTO_C    := $(PROTO_H:.h=.c)
UCFLAGS    += -I$(BUILD)/gen
HOST_CFLAGS += -I$(BUILD)/gen
HOST_SRCS  += $(PROTO_C)

$(ULIB): $(patsubst %,$(BUILD)/u/%.o,$(PROTO_C))
$(HOST_TESTS) $(FUZZ_SMOKE): $(PROTO_C) $(PROTO_H) lib/include/rill/proto.h

define PROTO_RULE
$(PROTO_DIR)/$(1).h $(PROTO_DIR)/$(1).c &: protocols/$(1)/$(1).proto tools/protogen.py abi/include/abi/errno.h
	@mkdir -p $(PROTO_DIR)
	@echo "  PROTO   $$<"
	$(Q)$(PYTHON) tools/protogen.py --errno abi/include/abi/errno.h $$< $(PROTO_DIR)
endef
$(foreach p,$(basename $(notdir $(PROTO_DEFS))),$(eval $(call PROTO_RULE,$(p))))

$(PROTO_DIR)/stamp.mk: $(PROTO_H) $(PROTO_C)
	@echo "# the protocol codecs are generated" > $@

ifeq ($(filter clean deps,$(MAKECMDGOALS)),)
-include $(PROTO_DIR)/stamp.mk
endif

# --- running ------------------------------------------------------------------

run: deps kernel $(INITRD)
	$(PYTHON) tools/qemu.py run --kernel $(KERNEL_BIN) --initrd $(INITRD) \
		--smp $(SMP) --mem $(MEM) --append "$(APPEND)"

debug: deps kernel $(INITRD)
	@echo "QEMU is halted with the GDB stub on localhost:1234; in another terminal:"
	@echo "  gdb $(KERNEL_ELF) -ex 'target remote :1234'"
	$(PYTHON) tools/qemu.py run --kernel $(KERNEL_BIN) --initrd $(INITRD) \
		--smp $(SMP) --mem $(MEM) --append "$(APPEND)" --gdb

iso: $(ISO)
$(ISO): $(KERNEL_BIN) $(INITRD) tools/mkiso.sh
	bash tools/mkiso.sh $(KERNEL_BIN) $(INITRD) $@

test: deps
	$(MAKE) all $(ISO)
	$(PYTHON) tools/runtests.py --build $(BUILD) --require-iso

bench: deps all
	$(PYTHON) tools/runbench.py --build $(BUILD)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/k $(BUILD)/u -name '*.d' 2>/dev/null)
