/*
 * acpi.h - parsing the static ACPI tables (RSDP, RSDT/XSDT, MADT, HPET, FADT).
 *
 * Portable: the parser never dereferences a physical address itself. It asks
 * a caller-supplied map function for every range it reads, so the kernel can
 * hand it the direct map and host tests a fake physical memory.
 *
 * The tables come from firmware and are never trusted. Every length, count
 * and offset is bounds-checked against what map() returned before it is
 * used; a table that fails a check is recorded with valid=false and an
 * error string, logged at LOG_WARN, and contributes nothing to the result.
 *
 * Invariants of a filled struct acpi_info (whatever the firmware says):
 *  - ntables <= ACPI_MAX_TABLES, ncpus <= ACPI_MAX_CPUS,
 *    nioapics <= ACPI_MAX_IOAPICS, nisos <= ACPI_MAX_ISOS;
 *  - every sig[] and oem_id[] is NUL-terminated and printable ASCII
 *    (non-printable bytes are replaced by '?');
 *  - has_madt/has_hpet/has_fadt are set only from a table with valid=true,
 *    and the first valid table of each kind wins;
 *  - no two entries of cpus[] share an apic_id.
 */
#ifndef KERNEL_ACPI_H
#define KERNEL_ACPI_H

#include <kernel/types.h>

#define ACPI_MAX_CPUS		64
#define ACPI_MAX_IOAPICS	8
#define ACPI_MAX_ISOS		24
#define ACPI_MAX_TABLES		32

/* Sanity limits: larger values are treated as corrupt. */
#define ACPI_MAX_TABLE_LEN	(16u << 20)	/* any single SDT */
#define ACPI_RSDP_MAX_LEN	4096u		/* RSDP extended length */

#define ACPI_RSDP_V1_LEN	20u	/* bytes covered by the first checksum */
#define ACPI_RSDP_V2_LEN	36u	/* minimum length when revision >= 2 */
#define ACPI_SDT_HEADER_LEN	36u

#define ACPI_DEFAULT_LAPIC_PHYS	0xfee00000u

/* acpi_parse() results (negative means nothing usable was found). */
#define ACPI_OK		0
#define ACPI_E_INVAL	(-1)	/* NULL map or out */
#define ACPI_E_RSDP	(-2)	/* RSDP unmappable, bad signature or checksum */
#define ACPI_E_ROOT	(-3)	/* neither the XSDT nor the RSDT is usable */

/* MPS INTI flags of an interrupt source override. */
#define ACPI_ISO_POLARITY_MASK	0x3
#define ACPI_ISO_POLARITY_BUS	0x0	/* conforms to the bus (ISA: high) */
#define ACPI_ISO_POLARITY_HIGH	0x1
#define ACPI_ISO_POLARITY_LOW	0x3
#define ACPI_ISO_TRIGGER_MASK	0xc
#define ACPI_ISO_TRIGGER_BUS	0x0	/* conforms to the bus (ISA: edge) */
#define ACPI_ISO_TRIGGER_EDGE	0x4
#define ACPI_ISO_TRIGGER_LEVEL	0xc

/* FADT IAPC_BOOT_ARCH bits. */
#define ACPI_BOOT_LEGACY_DEVICES 0x0001
#define ACPI_BOOT_8042		0x0002
#define ACPI_BOOT_NO_VGA	0x0004
#define ACPI_BOOT_NO_CMOS_RTC	0x0020

struct acpi_cpu {
	uint32_t acpi_uid;
	uint32_t apic_id;
	bool enabled;		/* usable now */
	bool online_capable;	/* disabled, but may be brought up later */
	bool x2apic;		/* came from a local x2APIC entry */
};

struct acpi_ioapic {
	uint32_t id;
	uint32_t phys;
	uint32_t gsi_base;
};

/* MPS INTI flags: polarity bits 0-1, trigger bits 2-3 (ACPI_ISO_*). */
struct acpi_iso {
	uint8_t bus;
	uint8_t source_irq;
	uint32_t gsi;
	uint16_t flags;
};

struct acpi_table_ref {
	char sig[5];
	uint64_t phys;
	uint32_t length;
	uint8_t revision;
	bool valid;
	char oem_id[7];		/* trailing spaces removed */
	const char *error;	/* static reason when !valid, else NULL */
};

struct acpi_info {
	uint64_t rsdp_phys;
	uint8_t revision;	/* RSDP revision (0: ACPI 1.0, 2: 2.0+) */
	bool use_xsdt;		/* the root table used is the XSDT */
	uint64_t root_phys;	/* the root table used */
	uint32_t root_length;

	/* Every table listed by the root table, valid=false when rejected. */
	struct acpi_table_ref tables[ACPI_MAX_TABLES];
	uint32_t ntables;
	uint32_t ntables_dropped;	/* entries beyond ACPI_MAX_TABLES */

	/* MADT */
	bool has_madt;
	uint64_t lapic_phys;	/* after any LAPIC address override */
	bool pcat_compat;	/* dual 8259 present */
	struct acpi_cpu cpus[ACPI_MAX_CPUS];
	uint32_t ncpus;
	uint32_t ncpus_dropped;	/* beyond ACPI_MAX_CPUS or duplicate IDs */
	struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
	uint32_t nioapics;
	uint32_t nioapics_dropped;
	struct acpi_iso isos[ACPI_MAX_ISOS];
	uint32_t nisos;
	uint32_t nisos_dropped;
	uint32_t nlapic_nmis;	/* local (x2)APIC NMI entries, counted only */

	/* HPET */
	bool has_hpet;
	uint64_t hpet_phys;
	uint8_t hpet_number;
	uint16_t hpet_min_tick;

	/* FADT */
	bool has_fadt;
	uint16_t sci_irq;
	uint32_t pm_timer_port;	/* I/O port of the ACPI PM timer, 0 if none */
	bool pm_timer_32bit;	/* TMR_VAL_EXT: the counter is 32 bits wide */
	uint8_t century;	/* CMOS index of the century, 0 if none */
	uint16_t boot_arch;	/* IAPC_BOOT_ARCH (ACPI_BOOT_*), 0 before 2.0 */
	uint32_t fadt_flags;
};

/*
 * Maps [phys, phys+len) and returns a pointer to it, or NULL if it cannot
 * (out of RAM, overflow). The kernel passes a direct-map lookup; tests pass a
 * fake physical memory. Pointers it returns must stay valid until
 * acpi_parse() returns.
 */
typedef const void *(*acpi_map_fn)(uint64_t phys, size_t len, void *ctx);

/*
 * Searches a byte area (e.g. the mapped EBDA or 0xE0000-0xFFFFF) on 16-byte
 * boundaries (relative to the area's start) for a valid RSDP: signature
 * "RSD PTR ", checksum of the first 20 bytes, and for revision >= 2 the
 * extended checksum over `length` bytes, with 36 <= length <=
 * ACPI_RSDP_MAX_LEN and the whole structure inside the area. Returns the
 * offset within the area, or -1.
 */
long acpi_find_rsdp(const void *area, size_t len);

/*
 * Parses everything reachable from the RSDP at rsdp_phys into *out (which is
 * cleared first). Returns ACPI_OK, or a negative ACPI_E_* when the RSDP or
 * the root table is unusable. Individual bad tables are marked valid=false,
 * logged with klog(LOG_WARN, "acpi: ...") naming the signature and the
 * reason, and never trusted; parsing continues with the others.
 *
 * The XSDT is preferred when the RSDP revision is >= 2, its extended
 * checksum holds and the XSDT address is nonzero and the XSDT valid;
 * otherwise the RSDT is used.
 *
 * A MADT whose entry framing is broken (an entry with length < 2, or one
 * running past the table end) is rejected as a whole: nothing parsed from it
 * is kept, and a later valid MADT, if any, is used instead. Entries that are
 * well framed but too short for their type or carry impossible values
 * (broadcast APIC ID, duplicate APIC ID, non-ISA override, null address) are
 * skipped with a warning. MADT, HPET and FADT with revision 0 are rejected.
 *
 * Reentrant: no global state; map() is the only way memory is reached.
 */
int acpi_parse(uint64_t rsdp_phys, acpi_map_fn map, void *ctx,
	       struct acpi_info *out);

/*
 * Logs a summary at LOG_INFO: the root table, one line per table (signature,
 * physical address, length, revision, OEM, and the reason when rejected),
 * then the CPUs, I/O APICs, interrupt source overrides, HPET and FADT data.
 */
void acpi_log_summary(const struct acpi_info *info);

#endif
