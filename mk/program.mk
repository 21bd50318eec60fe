# mk/program.mk - how every native program is built (docs/testing.md,
# "Where things are"). One template links a program; the lists below say
# which programs there are, so a new one needs a folder or a file, never a
# hand-written rule.
#
#   servers/<name>/*.c, drivers/<name>/*.c   the program bin/<name>
#   <component>/tests/<t>.c                  the in-OS test tests/<t>
#   <component>/tests-console/<t>.c          tests-console/<t> (typed input)
#   <component>/tests-services/<t>.c         tests-services/<t> (with init's services up)
#   user/bin/<p>.c                           bin/<p> (tools, peers of tests)
#   user/tests/<t>.c, user/bench/<b>.c       tests/<t>, bench/<b> (the kernel's)
#   user/tests-selftest/, user/bench-selftest/  the runners' failing fixtures
#
# Test programs are linked with lib/user/testmain.c (DEFINE_TEST and the
# utest lines); everything with crt0 and librill.a.

# $(call rill_program,PATH,SOURCES,EXTRA): PATH in the initrd, the program's
# sources (.c, .S), further objects to link (the test main).
define rill_program
$(ROOT)/$(1): $(patsubst %,$(BUILD)/u/%.o,$(2)) $(3) $(UCRT0) $(ULIB)
	@mkdir -p $$(dir $$@)
	@echo "  ULD     $$@"
	$(Q)$(CC) $(ULDFLAGS) -o $$@ $(UCRT0) $(patsubst %,$(BUILD)/u/%.o,$(2)) $(3) $(ULIB) -lgcc
UPROGS += $(ROOT)/$(1)
endef

COMPONENTS := $(sort $(patsubst %/,%,$(wildcard servers/*/ drivers/*/)))

# A component's program: every .c and .S directly in its folder.
$(foreach c,$(COMPONENTS),$(if $(wildcard $(c)/*.c $(c)/*.S),$(eval $(call \
	rill_program,bin/$(notdir $(c)),$(sort $(wildcard $(c)/*.c $(c)/*.S))))))

# One program per file: $(call rill_each,SRCDIR,INITRD-DIR,EXTRA).
rill_each = $(foreach f,$(sort $(wildcard $(1)/*.c)),$(eval $(call \
	rill_program,$(2)/$(basename $(notdir $(f))),$(f),$(3))))

$(foreach c,$(COMPONENTS),$(call rill_each,$(c)/tests,tests,$(UTESTMAIN)))
$(foreach c,$(COMPONENTS),$(call rill_each,$(c)/tests-console,tests-console,$(UTESTMAIN)))
$(foreach c,$(COMPONENTS),$(call rill_each,$(c)/tests-services,tests-services,$(UTESTMAIN)))
$(call rill_each,user/bin,bin)
$(call rill_each,user/tests,tests,$(UTESTMAIN))
$(call rill_each,user/bench,bench)
$(call rill_each,user/tests-selftest,tests-selftest,$(UTESTMAIN))
$(call rill_each,user/bench-selftest,bench-selftest)

# Two sources for one initrd path would be a silent override: refuse it.
ifneq ($(words $(UPROGS)),$(words $(sort $(UPROGS))))
$(error two programs for one initrd path: $(filter $(foreach p,$(sort $(UPROGS)),$(if $(filter 1,$(words $(filter $(p),$(UPROGS)))),,$(p))),$(UPROGS)))
endif
