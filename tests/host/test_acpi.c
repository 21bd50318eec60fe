/*
 * test_acpi.c - host unit tests for the ACPI table parser (kernel/acpi/acpi.c).
 *
 * Synthetic tables are built in a fake physical memory of MEM_SIZE bytes at
 * MEM_BASE. The map function handed to acpi_parse() bounds-checks the range
 * and returns a malloc'd copy of exactly the bytes asked for, so under
 * AddressSanitizer any read past what the parser mapped is caught, even when
 * it would still land inside the fake memory. The copies are freed after
 * each parse.
 *
 * Invariants checked after every parse (including the fuzz loop): counts
 * within the ACPI_MAX_* bounds, NUL-terminated names, no duplicate APIC IDs,
 * and has_madt/has_hpet/has_fadt backed by a valid table of that kind.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kernel/acpi.h>
#include <kernel/log.h>
#include "support.h"

#define MEM_BASE	0x100000ull
#define MEM_SIZE	0x10000u
#define MEM_END		(MEM_BASE + MEM_SIZE)

#define RSDP_AT		(MEM_BASE + 0x0)
#define RSDT_AT		(MEM_BASE + 0x100)
#define XSDT_AT		(MEM_BASE + 0x400)
#define MADT_AT		(MEM_BASE + 0x1000)
#define HPET_AT		(MEM_BASE + 0x2000)
#define FADT_AT		(MEM_BASE + 0x3000)
#define SSDT_AT		(MEM_BASE + 0x4000)
#define EXTRA_AT	(MEM_BASE + 0x5000)

#define GOOD_LAPIC_OVERRIDE	0x12fee00000ull

/*
 * Check records the location of every ck_assert() through its message
 * channel, which dominates the fuzz loop; hot paths use REQUIRE, which only
 * talks to Check when it fails.
 */
#define REQUIRE(c) \
	do { \
		if (!(c)) \
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c); \
	} while (0)

static uint8_t mem[MEM_SIZE];
static struct acpi_info info;
static int map_ctx_tag;

/* ---- fake physical memory ----------------------------------------------- */

static void **maps;
static size_t nmaps, cap_maps;

static const void *fake_map(uint64_t phys, size_t len, void *ctx)
{
	void *copy;

	REQUIRE(ctx == &map_ctx_tag);
	REQUIRE(len > 0);
	if (phys < MEM_BASE || len > MEM_SIZE || phys - MEM_BASE > MEM_SIZE - len)
		return NULL;
	copy = malloc(len);
	REQUIRE(copy);
	memcpy(copy, mem + (phys - MEM_BASE), len);
	if (nmaps == cap_maps) {
		cap_maps = cap_maps ? cap_maps * 2 : 64;
		maps = realloc(maps, cap_maps * sizeof(*maps));
		REQUIRE(maps);
	}
	maps[nmaps++] = copy;
	return copy;
}

static void maps_free(void)
{
	while (nmaps)
		free(maps[--nmaps]);
	free(maps);
	maps = NULL;
	cap_maps = 0;
}

static uint8_t *at(uint64_t phys)
{
	REQUIRE(phys >= MEM_BASE && phys < MEM_END);
	return mem + (phys - MEM_BASE);
}

static void w8(uint64_t phys, uint8_t v)
{
	*at(phys) = v;
}

static void w16(uint64_t phys, uint16_t v)
{
	w8(phys, (uint8_t)v);
	w8(phys + 1, (uint8_t)(v >> 8));
}

static void w32(uint64_t phys, uint32_t v)
{
	w16(phys, (uint16_t)v);
	w16(phys + 2, (uint16_t)(v >> 16));
}

static void w64(uint64_t phys, uint64_t v)
{
	w32(phys, (uint32_t)v);
	w32(phys + 4, (uint32_t)(v >> 32));
}

static uint32_t r32(uint64_t phys)
{
	const uint8_t *p = at(phys);

	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void wbytes(uint64_t phys, const void *src, size_t n)
{
	REQUIRE(phys >= MEM_BASE && n <= MEM_END - phys);
	memcpy(at(phys), src, n);
}

static uint8_t sum_bytes(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* ---- table builders ---------------------------------------------------- */

/* Recomputes the checksum of the SDT at phys if its length fits in memory. */
static void sdt_fix(uint64_t phys)
{
	uint32_t len;

	if (phys < MEM_BASE || MEM_END - phys < ACPI_SDT_HEADER_LEN)
		return;
	len = r32(phys + 4);
	if (len < 10 || len > MEM_END - phys)
		return;
	w8(phys + 9, 0);
	w8(phys + 9, (uint8_t)-sum_bytes(at(phys), len));
}

static void sdt_header(uint64_t phys, const char *sig, uint32_t len,
		       uint8_t rev)
{
	memset(at(phys), 0, ACPI_SDT_HEADER_LEN);
	wbytes(phys, sig, 4);
	w32(phys + 4, len);
	w8(phys + 8, rev);
	wbytes(phys + 10, "RILLTS", 6);
	wbytes(phys + 16, "FAKETBL ", 8);
	w32(phys + 24, 1);
	wbytes(phys + 28, "RILL", 4);
	w32(phys + 32, 0x20240101);
}

static void rsdp_fix(uint64_t phys)
{
	uint32_t ext;

	w8(phys + 8, 0);
	w8(phys + 8, (uint8_t)-sum_bytes(at(phys), ACPI_RSDP_V1_LEN));
	if (at(phys)[15] < 2)
		return;
	ext = r32(phys + 20);
	if (ext < 33 || ext > MEM_END - phys)
		return;
	w8(phys + 32, 0);
	w8(phys + 32, (uint8_t)-sum_bytes(at(phys), ext));
}

static void rsdp_build(uint64_t phys, uint8_t rev, uint32_t rsdt, uint64_t xsdt)
{
	memset(at(phys), 0, ACPI_RSDP_V2_LEN);
	wbytes(phys, "RSD PTR ", 8);
	wbytes(phys + 9, "RILLTS", 6);
	w8(phys + 15, rev);
	w32(phys + 16, rsdt);
	if (rev >= 2) {
		w32(phys + 20, ACPI_RSDP_V2_LEN);
		w64(phys + 24, xsdt);
	}
	rsdp_fix(phys);
}

/* Builds an RSDT or XSDT at phys listing n tables. */
static void root_build(uint64_t phys, bool xsdt, const uint64_t *list,
		       uint32_t n)
{
	uint32_t esize = xsdt ? 8 : 4, i;

	sdt_header(phys, xsdt ? "XSDT" : "RSDT", ACPI_SDT_HEADER_LEN + n * esize, 1);
	for (i = 0; i < n; i++) {
		if (xsdt)
			w64(phys + ACPI_SDT_HEADER_LEN + i * 8, list[i]);
		else
			w32(phys + ACPI_SDT_HEADER_LEN + i * 4, (uint32_t)list[i]);
	}
	sdt_fix(phys);
}

/* Points both the RSDT and the XSDT at the given tables. */
static void roots_list(const uint64_t *list, uint32_t n)
{
	root_build(RSDT_AT, false, list, n);
	root_build(XSDT_AT, true, list, n);
}

struct madt_b {
	uint64_t phys;
	uint32_t len;
};

static struct madt_b madt_begin(uint64_t phys, uint32_t lapic, uint32_t flags)
{
	struct madt_b b = { phys, 44 };

	sdt_header(phys, "APIC", 44, 5);
	w32(phys + 36, lapic);
	w32(phys + 40, flags);
	return b;
}

static uint64_t madt_entry(struct madt_b *b, uint8_t type, uint8_t len)
{
	uint64_t e = b->phys + b->len;

	memset(at(e), 0, len < 2 ? 2 : len);
	w8(e, type);
	w8(e + 1, len);
	b->len += len;
	return e;
}

static void madt_lapic(struct madt_b *b, uint8_t uid, uint8_t id, uint32_t flags)
{
	uint64_t e = madt_entry(b, 0, 8);

	w8(e + 2, uid);
	w8(e + 3, id);
	w32(e + 4, flags);
}

static void madt_ioapic(struct madt_b *b, uint8_t id, uint32_t addr, uint32_t gsi)
{
	uint64_t e = madt_entry(b, 1, 12);

	w8(e + 2, id);
	w32(e + 4, addr);
	w32(e + 8, gsi);
}

static void madt_iso(struct madt_b *b, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	uint64_t e = madt_entry(b, 2, 10);

	w8(e + 2, 0);
	w8(e + 3, irq);
	w32(e + 4, gsi);
	w16(e + 8, flags);
}

static void madt_nmi(struct madt_b *b, uint8_t uid, uint16_t flags, uint8_t lint)
{
	uint64_t e = madt_entry(b, 4, 6);

	w8(e + 2, uid);
	w16(e + 3, flags);
	w8(e + 5, lint);
}

static void madt_lapic_override(struct madt_b *b, uint64_t addr)
{
	uint64_t e = madt_entry(b, 5, 12);

	w64(e + 4, addr);
}

static void madt_x2apic(struct madt_b *b, uint32_t id, uint32_t flags, uint32_t uid)
{
	uint64_t e = madt_entry(b, 9, 16);

	w32(e + 4, id);
	w32(e + 8, flags);
	w32(e + 12, uid);
}

static void madt_end(struct madt_b *b)
{
	w32(b->phys + 4, b->len);
	sdt_fix(b->phys);
}

/* 5 CPUs (one disabled, one online-capable, one x2APIC), 1 I/O APIC,
 * 2 overrides, 1 NMI, 1 LAPIC address override. */
static void build_good_madt(uint64_t phys)
{
	struct madt_b b = madt_begin(phys, 0xfee00000u, 1);

	madt_lapic(&b, 0, 0, 1);
	madt_lapic(&b, 1, 1, 1);
	madt_lapic(&b, 2, 2, 0);
	madt_lapic(&b, 3, 3, 2);
	madt_ioapic(&b, 4, 0xfec00000u, 0);
	madt_iso(&b, 0, 2, 0);
	madt_iso(&b, 9, 9, 0xd);
	madt_nmi(&b, 0xff, 5, 1);
	madt_lapic_override(&b, GOOD_LAPIC_OVERRIDE);
	madt_x2apic(&b, 300, 1, 300);
	madt_end(&b);
}

static void build_hpet(uint64_t phys, uint8_t space, uint64_t addr)
{
	sdt_header(phys, "HPET", 56, 1);
	w32(phys + 36, 0x8086a201u);
	w8(phys + 40, space);
	w8(phys + 41, 64);
	w64(phys + 44, addr);
	w8(phys + 52, 0);
	w16(phys + 53, 0x80);
	sdt_fix(phys);
}

static void build_fadt(uint64_t phys, uint32_t len, uint8_t rev)
{
	sdt_header(phys, "FACP", len, rev);
	memset(at(phys + 36), 0, len - 36);
	w16(phys + 46, 9);		/* SCI_INT */
	w32(phys + 76, 0x608);		/* PM_TMR_BLK */
	w8(phys + 91, 4);		/* PM_TMR_LEN */
	w8(phys + 108, 0x32);		/* CENTURY */
	w16(phys + 109, 0x3);		/* IAPC_BOOT_ARCH */
	w32(phys + 112, 1u << 8);	/* TMR_VAL_EXT */
	if (len >= 220) {
		w8(phys + 208, 1);	/* X_PM_TMR_BLK: I/O space */
		w8(phys + 209, 32);
		w64(phys + 212, 0x1008);
	}
	sdt_fix(phys);
}

static void build_ssdt(uint64_t phys)
{
	sdt_header(phys, "SSDT", 64, 2);
	memset(at(phys + 36), 0xa5, 28);
	sdt_fix(phys);
}

static const uint64_t default_list[] = { SSDT_AT, FADT_AT, HPET_AT, MADT_AT };

/* A complete good table set; the RSDP is revision 2 with an XSDT when
 * use_xsdt, else revision 0 (RSDT only). */
static void build_good(bool use_xsdt)
{
	memset(mem, 0, sizeof(mem));
	build_good_madt(MADT_AT);
	build_hpet(HPET_AT, 0, 0xfed00000u);
	build_fadt(FADT_AT, 276, 6);
	build_ssdt(SSDT_AT);
	roots_list(default_list, 4);
	if (use_xsdt)
		rsdp_build(RSDP_AT, 2, (uint32_t)RSDT_AT, XSDT_AT);
	else
		rsdp_build(RSDP_AT, 0, (uint32_t)RSDT_AT, 0);
}

/* Lists `last` after the other default tables. */
static void list_last(uint64_t last)
{
	uint64_t list[4];
	uint32_t i, n = 0;

	for (i = 0; i < 4; i++)
		if (default_list[i] != last)
			list[n++] = default_list[i];
	list[n++] = last;
	roots_list(list, n);
}

/* ---- checks ------------------------------------------------------------ */

static bool has_valid(const struct acpi_info *in, const char *sig)
{
	uint32_t i;

	for (i = 0; i < in->ntables && i < ACPI_MAX_TABLES; i++)
		if (in->tables[i].valid && strcmp(in->tables[i].sig, sig) == 0)
			return true;
	return false;
}

static void check_invariants(const struct acpi_info *in)
{
	uint32_t i, j;

	REQUIRE(in->ntables <= ACPI_MAX_TABLES);
	REQUIRE(in->ncpus <= ACPI_MAX_CPUS);
	REQUIRE(in->nioapics <= ACPI_MAX_IOAPICS);
	REQUIRE(in->nisos <= ACPI_MAX_ISOS);
	for (i = 0; i < in->ntables; i++) {
		const struct acpi_table_ref *t = &in->tables[i];

		REQUIRE(strnlen(t->sig, sizeof(t->sig)) == 4);
		REQUIRE(strnlen(t->oem_id, sizeof(t->oem_id)) < sizeof(t->oem_id));
		for (j = 0; j < 4; j++)
			REQUIRE(t->sig[j] >= 0x20 && t->sig[j] < 0x7f);
		for (j = 0; t->oem_id[j]; j++)
			REQUIRE(t->oem_id[j] >= 0x20 && t->oem_id[j] < 0x7f);
		REQUIRE(t->valid == (t->error == NULL));
	}
	for (i = 0; i < in->ncpus; i++)
		for (j = i + 1; j < in->ncpus; j++)
			REQUIRE(in->cpus[i].apic_id != in->cpus[j].apic_id);
	for (i = 0; i < in->nisos; i++)
		REQUIRE(in->isos[i].source_irq <= 15);
	if (in->has_madt)
		REQUIRE(has_valid(in, "APIC"));
	else
		REQUIRE(in->ncpus + in->nioapics + in->nisos == 0);
	if (in->has_hpet)
		REQUIRE(has_valid(in, "HPET"));
	if (in->has_fadt)
		REQUIRE(has_valid(in, "FACP"));
}

static int parse_at(uint64_t rsdp)
{
	int r;

	host_log_reset();
	r = acpi_parse(rsdp, fake_map, &map_ctx_tag, &info);
	maps_free();
	check_invariants(&info);
	return r;
}

static int parse(void)
{
	return parse_at(RSDP_AT);
}

static const struct acpi_table_ref *table_at(uint64_t phys)
{
	uint32_t i;

	for (i = 0; i < info.ntables; i++)
		if (info.tables[i].phys == phys)
			return &info.tables[i];
	ck_abort_msg("no table at %#llx", (unsigned long long)phys);
	return NULL;
}

/* The last log line is a warning containing both strings. */
static void expect_warn(const char *a, const char *b)
{
	ck_assert_int_eq(host_last_log_level, LOG_WARN);
	ck_assert_msg(strstr(host_last_log, a), "'%s' not in '%s'", a, host_last_log);
	if (b)
		ck_assert_msg(strstr(host_last_log, b), "'%s' not in '%s'", b,
			      host_last_log);
}

static void expect_table_rejected(uint64_t phys, const char *sig, const char *why)
{
	const struct acpi_table_ref *t = table_at(phys);

	ck_assert(!t->valid);
	ck_assert_str_eq(t->sig, sig);
	ck_assert_ptr_nonnull(t->error);
	ck_assert_msg(strstr(t->error, why), "'%s' not in '%s'", why, t->error);
	expect_warn(sig, why);
}

static void check_good_madt(void)
{
	ck_assert(info.has_madt);
	ck_assert(info.pcat_compat);
	ck_assert_uint_eq(info.lapic_phys, GOOD_LAPIC_OVERRIDE);
	ck_assert_uint_eq(info.ncpus, 5);
	ck_assert_uint_eq(info.cpus[0].apic_id, 0);
	ck_assert(info.cpus[0].enabled);
	ck_assert_uint_eq(info.cpus[1].acpi_uid, 1);
	ck_assert(info.cpus[1].enabled);
	ck_assert_uint_eq(info.cpus[2].apic_id, 2);
	ck_assert(!info.cpus[2].enabled);
	ck_assert(!info.cpus[2].online_capable);
	ck_assert(!info.cpus[3].enabled);
	ck_assert(info.cpus[3].online_capable);
	ck_assert_uint_eq(info.cpus[4].apic_id, 300);
	ck_assert_uint_eq(info.cpus[4].acpi_uid, 300);
	ck_assert(info.cpus[4].x2apic);
	ck_assert(info.cpus[4].enabled);
	ck_assert(!info.cpus[0].x2apic);
	ck_assert_uint_eq(info.nioapics, 1);
	ck_assert_uint_eq(info.ioapics[0].id, 4);
	ck_assert_uint_eq(info.ioapics[0].phys, 0xfec00000u);
	ck_assert_uint_eq(info.ioapics[0].gsi_base, 0);
	ck_assert_uint_eq(info.nisos, 2);
	ck_assert_uint_eq(info.isos[0].source_irq, 0);
	ck_assert_uint_eq(info.isos[0].gsi, 2);
	ck_assert_uint_eq(info.isos[0].flags, 0);
	ck_assert_uint_eq(info.isos[1].source_irq, 9);
	ck_assert_uint_eq(info.isos[1].gsi, 9);
	ck_assert_uint_eq(info.isos[1].flags & ACPI_ISO_POLARITY_MASK,
			  ACPI_ISO_POLARITY_HIGH);
	ck_assert_uint_eq(info.isos[1].flags & ACPI_ISO_TRIGGER_MASK,
			  ACPI_ISO_TRIGGER_LEVEL);
	ck_assert_uint_eq(info.nlapic_nmis, 1);
	ck_assert_uint_eq(info.ncpus_dropped + info.nioapics_dropped +
			  info.nisos_dropped, 0);
}

static void check_good_all(void)
{
	uint32_t i;

	ck_assert_uint_eq(info.ntables, 4);
	for (i = 0; i < 4; i++) {
		ck_assert(info.tables[i].valid);
		ck_assert_uint_eq(info.tables[i].phys, default_list[i]);
		ck_assert_str_eq(info.tables[i].oem_id, "RILLTS");
	}
	ck_assert_str_eq(info.tables[0].sig, "SSDT");
	ck_assert_uint_eq(info.tables[0].length, 64);
	ck_assert_uint_eq(info.tables[0].revision, 2);
	ck_assert_str_eq(info.tables[1].sig, "FACP");
	ck_assert_str_eq(info.tables[2].sig, "HPET");
	ck_assert_str_eq(info.tables[3].sig, "APIC");
	check_good_madt();

	ck_assert(info.has_hpet);
	ck_assert_uint_eq(info.hpet_phys, 0xfed00000u);
	ck_assert_uint_eq(info.hpet_number, 0);
	ck_assert_uint_eq(info.hpet_min_tick, 0x80);

	ck_assert(info.has_fadt);
	ck_assert_uint_eq(info.sci_irq, 9);
	ck_assert_uint_eq(info.pm_timer_port, 0x1008);	/* X_PM_TMR_BLK wins */
	ck_assert(info.pm_timer_32bit);
	ck_assert_uint_eq(info.century, 0x32);
	ck_assert_uint_eq(info.boot_arch, ACPI_BOOT_LEGACY_DEVICES | ACPI_BOOT_8042);
	/* A good set logs nothing at warning level or above. */
	ck_assert_int_eq(host_log_count, 0);
}

/* ---- acpi_find_rsdp ------------------------------------------------------ */

static void area_put_rsdp(uint8_t *area, size_t off, uint8_t rev)
{
	uint8_t *r = area + off;

	memset(r, 0, rev >= 2 ? 36 : 20);
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "RILLTS", 6);
	r[15] = rev;
	r[16] = 0x00; r[17] = 0x01; r[18] = 0x10; r[19] = 0x00;
	r[8] = (uint8_t)-sum_bytes(r, 20);
	if (rev >= 2) {
		r[20] = 36;
		r[24] = 0x00; r[25] = 0x04; r[26] = 0x10;
		r[32] = (uint8_t)-sum_bytes(r, 36);
	}
}

/* Runs acpi_find_rsdp on an exact-size heap copy so ASan sees overreads. */
static long find_in(const uint8_t *area, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	long r;

	REQUIRE(copy);
	memcpy(copy, area, len);
	r = acpi_find_rsdp(copy, len);
	free(copy);
	return r;
}

START_TEST(find_rsdp_v1)
{
	uint8_t area[256] = { 0 };

	area_put_rsdp(area, 0x40, 0);
	ck_assert_int_eq(find_in(area, sizeof(area)), 0x40);
}
END_TEST

START_TEST(find_rsdp_v2)
{
	uint8_t area[256] = { 0 };

	area_put_rsdp(area, 0x80, 2);
	ck_assert_int_eq(find_in(area, sizeof(area)), 0x80);
}
END_TEST

START_TEST(find_rsdp_v1_at_area_end)
{
	uint8_t area[0xf0 + 20] = { 0 };

	area_put_rsdp(area, 0xf0, 0);
	ck_assert_int_eq(find_in(area, sizeof(area)), 0xf0);
}
END_TEST

START_TEST(find_rsdp_bad_checksum)
{
	uint8_t area[256] = { 0 };

	area_put_rsdp(area, 0x40, 0);
	area[0x40 + 16] ^= 0x10;
	ck_assert_int_eq(find_in(area, sizeof(area)), -1);
}
END_TEST

START_TEST(find_rsdp_bad_signature)
{
	uint8_t area[256] = { 0 };

	area_put_rsdp(area, 0x40, 0);
	area[0x40 + 2] = 'X';
	area[0x40 + 8] = (uint8_t)(area[0x40 + 8] + 'D' - 'X');	/* sum stays 0 */
	ck_assert_uint_eq(sum_bytes(area + 0x40, 20), 0);
	ck_assert_int_eq(find_in(area, sizeof(area)), -1);
}
END_TEST

START_TEST(find_rsdp_v2_bad_ext_checksum)
{
	uint8_t area[256] = { 0 };

	area_put_rsdp(area, 0x40, 2);
	area[0x40 + 30] ^= 1;	/* only the extended part changes */
	ck_assert_uint_eq(sum_bytes(area + 0x40, 20), 0);
	ck_assert_int_eq(find_in(area, sizeof(area)), -1);
}
END_TEST

START_TEST(find_rsdp_v2_bad_length)
{
	uint8_t area[256] = { 0 };
	uint8_t *r = area + 0x40;

	area_put_rsdp(area, 0x40, 2);
	r[20] = 20;		/* shorter than the v2 structure */
	r[32] = 0;
	r[32] = (uint8_t)-sum_bytes(r, 36);
	ck_assert_int_eq(find_in(area, sizeof(area)), -1);
	r[20] = 0x00;
	r[21] = 0x10;		/* 4096: runs past the area */
	ck_assert_int_eq(find_in(area, sizeof(area)), -1);
	r[20] = 0xff;
	r[21] = 0xff;
	r[22] = 0xff;
	r[23] = 0xff;
	ck_assert_int_eq(find_in(area, sizeof(area)), -1);
}
END_TEST

START_TEST(find_rsdp_v2_truncated_by_area)
{
	uint8_t area[0xf0 + 36] = { 0 };

	area_put_rsdp(area, 0xf0, 2);
	/* Only 20 bytes of the 36-byte structure are inside the area. */
	ck_assert_int_eq(find_in(area, 0xf0 + 20), -1);
	ck_assert_int_eq(find_in(area, 0xf0 + 35), -1);
	ck_assert_int_eq(find_in(area, 0xf0 + 36), 0xf0);
}
END_TEST

START_TEST(find_rsdp_unaligned_ignored)
{
	uint8_t area[256] = { 0 };

	area_put_rsdp(area, 0x48, 0);
	ck_assert_int_eq(find_in(area, sizeof(area)), -1);
}
END_TEST

START_TEST(find_rsdp_skips_bad_candidate)
{
	uint8_t area[256] = { 0 };

	area_put_rsdp(area, 0x20, 2);
	area[0x20 + 33] ^= 0xff;	/* bad extended checksum */
	area_put_rsdp(area, 0x90, 0);
	ck_assert_int_eq(find_in(area, sizeof(area)), 0x90);
}
END_TEST

START_TEST(find_rsdp_tiny_or_null)
{
	uint8_t area[32] = { 0 };

	area_put_rsdp(area, 0, 0);
	ck_assert_int_eq(find_in(area, 19), -1);
	ck_assert_int_eq(find_in(area, 0), -1);
	ck_assert_int_eq(acpi_find_rsdp(NULL, 4096), -1);
	ck_assert_int_eq(find_in(area, 20), 0);
}
END_TEST

/* ---- good table sets ------------------------------------------------- */

START_TEST(parse_good_rsdt)
{
	build_good(false);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(!info.use_xsdt);
	ck_assert_uint_eq(info.revision, 0);
	ck_assert_uint_eq(info.rsdp_phys, RSDP_AT);
	ck_assert_uint_eq(info.root_phys, RSDT_AT);
	ck_assert_uint_eq(info.root_length, 36 + 16);
	check_good_all();
}
END_TEST

START_TEST(parse_good_xsdt)
{
	build_good(true);
	/* Make the RSDT list nothing: only the XSDT can give the tables. */
	root_build(RSDT_AT, false, NULL, 0);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(info.use_xsdt);
	ck_assert_uint_eq(info.revision, 2);
	ck_assert_uint_eq(info.root_phys, XSDT_AT);
	ck_assert_uint_eq(info.root_length, 36 + 32);
	check_good_all();
}
END_TEST

START_TEST(parse_xsdt_unaligned)
{
	uint64_t xsdt = XSDT_AT + 0x103;	/* entries at an odd address */

	build_good(true);
	root_build(xsdt, true, default_list, 4);
	root_build(RSDT_AT, false, NULL, 0);
	rsdp_build(RSDP_AT, 2, (uint32_t)RSDT_AT, xsdt);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(info.use_xsdt);
	check_good_all();
}
END_TEST

START_TEST(parse_xsdt_64bit_entry_above_4g)
{
	uint64_t list[] = { SSDT_AT, 0x100000000ull + MADT_AT };

	build_good(true);
	root_build(XSDT_AT, true, list, 2);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert_uint_eq(info.ntables, 2);
	/* The high bits are kept, so the address is outside memory. */
	expect_table_rejected(0x100000000ull + MADT_AT, "????", "header not mappable");
	ck_assert(!info.has_madt);
}
END_TEST

START_TEST(parse_fadt_v1)
{
	build_good(false);
	build_fadt(FADT_AT, 116, 1);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(table_at(FADT_AT)->valid);
	ck_assert(info.has_fadt);
	ck_assert_uint_eq(info.sci_irq, 9);
	ck_assert_uint_eq(info.pm_timer_port, 0x608);
	ck_assert_uint_eq(info.century, 0x32);
	ck_assert_uint_eq(info.boot_arch, 0);	/* not defined before 2.0 */
}
END_TEST

/* Runs acpi_log_summary() with the host klog echoing to a temporary file
 * (HOST_TEST_LOG) and returns everything it logged. */
static char *capture_summary(const struct acpi_info *in)
{
	FILE *tmp = tmpfile();
	char *text;
	long n;
	int saved;

	ck_assert_ptr_nonnull(tmp);
	fflush(stderr);
	saved = dup(2);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fileno(tmp), 2), 0);
	setenv("HOST_TEST_LOG", "1", 1);
	acpi_log_summary(in);
	unsetenv("HOST_TEST_LOG");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ck_assert_int_eq(fseek(tmp, 0, SEEK_END), 0);
	n = ftell(tmp);
	ck_assert_int_ge(n, 0);
	rewind(tmp);
	text = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(fread(text, 1, (size_t)n, tmp), (size_t)n);
	fclose(tmp);
	return text;
}

static void expect_in(const char *text, const char *what)
{
	ck_assert_msg(strstr(text, what), "'%s' not in:\n%s", what, text);
}

START_TEST(parse_log_summary)
{
	char *text;

	build_good(true);
	ck_assert_int_eq(parse(), ACPI_OK);
	host_log_reset();
	text = capture_summary(&info);
	/* header + 4 tables + MADT + 5 CPUs + I/O APIC + 2 ISOs + HPET + FADT */
	ck_assert_int_eq(host_log_count, 16);
	ck_assert_int_eq(host_last_log_level, LOG_INFO);
	expect_in(text, "RSDP rev 2 at 0x100000, XSDT at 0x100400 (length 68), 4 tables");
	expect_in(text, "SSDT 0x0000000000104000 len      64 rev   2 OEM RILLTS\n");
	expect_in(text, "local APIC at 0x12fee00000, 8259 present, 5 CPUs (3 enabled)");
	expect_in(text, "CPU uid 2 APIC ID 2 disabled");
	expect_in(text, "CPU uid 3 APIC ID 3 online-capable");
	expect_in(text, "CPU uid 300 APIC ID 300 (x2APIC)\n");
	expect_in(text, "I/O APIC 4 at 0xfec00000, GSI base 0");
	expect_in(text, "IRQ 0 -> GSI 2, polarity bus, trigger bus");
	expect_in(text, "IRQ 9 -> GSI 9, polarity high, trigger level");
	expect_in(text, "HPET 0 at 0xfed00000, minimum tick 128");
	expect_in(text, "SCI IRQ 9, PM timer port 0x1008 (32-bit), century 0x32");
	free(text);

	host_log_reset();
	acpi_log_summary(NULL);
	ck_assert_int_eq(host_log_count, 0);

	/* A rejected table is shown with its reason. */
	build_good(false);
	w8(HPET_AT + 20, 0x77);
	ck_assert_int_eq(parse(), ACPI_OK);
	text = capture_summary(&info);
	expect_in(text, "HPET 0x0000000000102000 len      56 rev   1 OEM RILLTS INVALID: bad checksum");
	expect_in(text, "no HPET");
	free(text);
}
END_TEST

/* ---- corrupted tables ---------------------------------------------------- */

START_TEST(bad_table_checksum)
{
	build_good(false);
	w8(HPET_AT + 44, 0x01);		/* change the base address only */
	list_last(HPET_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(HPET_AT, "HPET", "checksum");
	ck_assert(!info.has_hpet);
	ck_assert_uint_eq(info.hpet_phys, 0);
	check_good_madt();
	ck_assert(info.has_fadt);
}
END_TEST

START_TEST(table_length_below_header)
{
	build_good(false);
	w32(MADT_AT + 4, 20);
	sdt_fix(MADT_AT);
	list_last(MADT_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(MADT_AT, "APIC", "shorter than the header");
	ck_assert(!info.has_madt);
	ck_assert_uint_eq(info.ncpus, 0);
	ck_assert(info.has_hpet);
}
END_TEST

START_TEST(table_length_past_memory)
{
	uint64_t fadt = MEM_END - 0x80;
	uint64_t list[] = { MADT_AT, fadt };

	build_good(false);
	sdt_header(fadt, "FACP", 276, 6);	/* 276 bytes, 0x80 mapped */
	roots_list(list, 2);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(fadt, "FACP", "past mappable memory");
	ck_assert_uint_eq(table_at(fadt)->length, 276);
	ck_assert(!info.has_fadt);
	ck_assert(info.has_madt);
}
END_TEST

START_TEST(table_length_huge)
{
	build_good(false);
	w32(SSDT_AT + 4, 0xfffffff0u);
	list_last(SSDT_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(SSDT_AT, "SSDT", "too large");
	w32(SSDT_AT + 4, ACPI_MAX_TABLE_LEN);	/* sane but not mappable */
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(SSDT_AT, "SSDT", "past mappable memory");
}
END_TEST

START_TEST(table_header_unmappable)
{
	uint64_t list[] = { MADT_AT, MEM_END - 10, 0, 0xfffffffffffffff0ull };

	build_good(true);
	root_build(XSDT_AT, true, list, 4);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(info.use_xsdt);
	ck_assert_uint_eq(info.ntables, 4);
	ck_assert(info.tables[0].valid);
	ck_assert(!info.tables[1].valid);
	ck_assert_str_eq(info.tables[1].error, "header not mappable");
	ck_assert(!info.tables[2].valid);
	ck_assert_str_eq(info.tables[2].error, "null table address");
	expect_table_rejected(0xfffffffffffffff0ull, "????", "header not mappable");
	check_good_madt();
}
END_TEST

START_TEST(madt_entry_length_zero)
{
	struct madt_b b;

	build_good(false);
	b = madt_begin(MADT_AT, 0xfee00000u, 1);
	madt_lapic(&b, 0, 0, 1);
	madt_entry(&b, 0, 0);
	b.len += 8;		/* bytes after the zero-length entry */
	madt_end(&b);
	list_last(MADT_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(MADT_AT, "APIC", "length < 2");
	ck_assert_ptr_nonnull(strstr(host_last_log, "offset 52"));
	ck_assert(!info.has_madt);
	ck_assert_uint_eq(info.ncpus, 0);	/* all or nothing */
	ck_assert(info.has_hpet);
	ck_assert(info.has_fadt);
}
END_TEST

START_TEST(madt_entry_length_one)
{
	struct madt_b b;

	build_good(false);
	b = madt_begin(MADT_AT, 0xfee00000u, 1);
	madt_lapic(&b, 0, 0, 1);
	madt_entry(&b, 1, 1);
	b.len += 1;
	madt_end(&b);
	list_last(MADT_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(MADT_AT, "APIC", "length < 2");
	ck_assert(!info.has_madt);
}
END_TEST

START_TEST(madt_entry_past_end)
{
	struct madt_b b;

	build_good(false);
	b = madt_begin(MADT_AT, 0xfee00000u, 1);
	madt_lapic(&b, 0, 0, 1);
	madt_x2apic(&b, 7, 1, 7);
	b.len -= 4;		/* the table ends inside the x2APIC entry */
	madt_end(&b);
	list_last(MADT_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(MADT_AT, "APIC", "past the table end");
	ck_assert(!info.has_madt);
	ck_assert_uint_eq(info.ncpus, 0);
}
END_TEST

START_TEST(madt_truncated_entry_header)
{
	struct madt_b b;

	build_good(false);
	b = madt_begin(MADT_AT, 0xfee00000u, 1);
	madt_lapic(&b, 0, 0, 1);
	w8(b.phys + b.len, 0);
	b.len += 1;		/* one byte left: no room for type + length */
	madt_end(&b);
	list_last(MADT_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(MADT_AT, "APIC", "truncated");
}
END_TEST

START_TEST(madt_fixed_part_short)
{
	build_good(false);
	sdt_header(MADT_AT, "APIC", 40, 3);
	sdt_fix(MADT_AT);
	list_last(MADT_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(MADT_AT, "APIC", "fixed part");
}
END_TEST

START_TEST(madt_revision_zero)
{
	build_good(false);
	w8(MADT_AT + 8, 0);
	sdt_fix(MADT_AT);
	list_last(MADT_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(MADT_AT, "APIC", "revision");
	ck_assert(!info.has_madt);
}
END_TEST

START_TEST(madt_short_entry_skipped)
{
	struct madt_b b;
	uint64_t e;

	build_good(false);
	b = madt_begin(MADT_AT, 0, 0);
	madt_lapic(&b, 0, 0, 1);
	e = madt_entry(&b, 0, 6);	/* a local APIC entry needs 8 */
	w8(e + 3, 9);
	madt_ioapic(&b, 1, 0xfec00000u, 0);
	madt_entry(&b, 0x7f, 3);	/* unknown type: ignored */
	madt_lapic(&b, 1, 1, 1);
	madt_end(&b);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(table_at(MADT_AT)->valid);
	ck_assert(info.has_madt);
	ck_assert(!info.pcat_compat);
	ck_assert_uint_eq(info.lapic_phys, ACPI_DEFAULT_LAPIC_PHYS);	/* was 0 */
	ck_assert_uint_eq(info.ncpus, 2);
	ck_assert_uint_eq(info.cpus[1].apic_id, 1);
	ck_assert_uint_eq(info.nioapics, 1);
}
END_TEST

START_TEST(madt_too_many_cpus)
{
	struct madt_b b;
	uint32_t i;

	build_good(false);
	b = madt_begin(MADT_AT, 0xfee00000u, 1);
	for (i = 0; i < ACPI_MAX_CPUS + 6; i++)
		madt_lapic(&b, (uint8_t)i, (uint8_t)i, 1);
	madt_ioapic(&b, 2, 0xfec00000u, 0);
	madt_end(&b);
	list_last(MADT_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(table_at(MADT_AT)->valid);
	ck_assert_uint_eq(info.ncpus, ACPI_MAX_CPUS);
	ck_assert_uint_eq(info.ncpus_dropped, 6);
	ck_assert_uint_eq(info.cpus[ACPI_MAX_CPUS - 1].apic_id, ACPI_MAX_CPUS - 1);
	ck_assert_uint_eq(info.nioapics, 1);	/* entries after the overflow */
	expect_warn("more than 64 CPUs", "6 dropped");
}
END_TEST

START_TEST(madt_too_many_ioapics_and_isos)
{
	struct madt_b b;
	uint32_t i;

	build_good(false);
	b = madt_begin(MADT_AT, 0xfee00000u, 1);
	madt_lapic(&b, 0, 0, 1);
	for (i = 0; i < ACPI_MAX_IOAPICS + 3; i++)
		madt_ioapic(&b, (uint8_t)i, 0xfec00000u + i * 0x1000, i * 24);
	for (i = 0; i < 16; i++)
		madt_iso(&b, (uint8_t)i, i, 0);
	for (i = 0; i < 16; i++)	/* the same IRQs again: duplicates */
		madt_iso(&b, (uint8_t)i, i + 16, 0);
	madt_end(&b);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert_uint_eq(info.nioapics, ACPI_MAX_IOAPICS);
	ck_assert_uint_eq(info.nioapics_dropped, 3);
	ck_assert_uint_eq(info.nisos, 16);
	ck_assert_uint_eq(info.isos[5].gsi, 5);	/* the first one wins */
}
END_TEST

START_TEST(madt_bad_values_skipped)
{
	struct madt_b b;
	uint64_t e;

	build_good(false);
	b = madt_begin(MADT_AT, 0xfee00000u, 1);
	madt_lapic(&b, 0, 0, 1);
	madt_lapic(&b, 1, 0, 1);		/* duplicate APIC ID */
	madt_x2apic(&b, 0, 1, 5);		/* duplicate again, via x2APIC */
	madt_lapic(&b, 2, 0xff, 1);		/* broadcast ID */
	madt_x2apic(&b, 0xffffffffu, 1, 6);	/* broadcast x2APIC ID */
	madt_iso(&b, 20, 20, 0);		/* not an ISA IRQ */
	e = madt_entry(&b, 2, 10);		/* bus 1 */
	w8(e + 2, 1);
	madt_ioapic(&b, 3, 0, 0);		/* null address */
	madt_lapic_override(&b, 0);		/* null override: ignored */
	madt_lapic_override(&b, 0xfee10000u);
	madt_lapic_override(&b, 0xfee20000u);	/* second: ignored */
	madt_end(&b);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(info.has_madt);
	ck_assert_uint_eq(info.ncpus, 1);
	ck_assert_uint_eq(info.ncpus_dropped, 2);
	ck_assert_uint_eq(info.nisos, 0);
	ck_assert_uint_eq(info.nioapics, 0);
	ck_assert_uint_eq(info.lapic_phys, 0xfee10000u);
	ck_assert_int_gt(host_log_count, 6);
}
END_TEST

START_TEST(duplicate_madt_first_wins)
{
	struct madt_b b;
	uint64_t list[] = { MADT_AT, EXTRA_AT };

	build_good(false);
	b = madt_begin(EXTRA_AT, 0xfee00000u, 0);
	madt_lapic(&b, 0, 42, 1);
	madt_end(&b);
	roots_list(list, 2);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(table_at(MADT_AT)->valid);
	ck_assert(table_at(EXTRA_AT)->valid);
	check_good_madt();
	expect_warn("duplicate MADT", NULL);
}
END_TEST

START_TEST(duplicate_madt_first_invalid)
{
	struct madt_b b;
	uint64_t list[] = { MADT_AT, EXTRA_AT, MADT_AT };

	build_good(false);
	b = madt_begin(EXTRA_AT, 0xfee00000u, 0);
	madt_lapic(&b, 0, 42, 1);
	madt_end(&b);
	w8(MADT_AT + 45, 0);		/* first entry: length 0 */
	sdt_fix(MADT_AT);
	roots_list(list, 3);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(!info.tables[0].valid);
	ck_assert(info.tables[1].valid);
	ck_assert(!info.tables[2].valid);
	ck_assert(info.has_madt);
	ck_assert_uint_eq(info.ncpus, 1);
	ck_assert_uint_eq(info.cpus[0].apic_id, 42);
	ck_assert(!info.pcat_compat);
}
END_TEST

START_TEST(duplicate_hpet_and_fadt)
{
	uint64_t list[] = { HPET_AT, FADT_AT, EXTRA_AT, EXTRA_AT + 0x400 };

	build_good(false);
	build_hpet(EXTRA_AT, 0, 0xfed01000u);
	build_fadt(EXTRA_AT + 0x400, 116, 1);
	w16(EXTRA_AT + 0x400 + 46, 11);
	sdt_fix(EXTRA_AT + 0x400);
	roots_list(list, 4);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert_uint_eq(info.hpet_phys, 0xfed00000u);
	ck_assert_uint_eq(info.sci_irq, 9);
	expect_warn("duplicate FADT", NULL);
}
END_TEST

START_TEST(hpet_bad_fields)
{
	build_good(false);
	list_last(HPET_AT);
	build_hpet(HPET_AT, 1, 0xfed00000u);	/* I/O space */
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(HPET_AT, "HPET", "system memory");
	ck_assert(!info.has_hpet);

	build_hpet(HPET_AT, 0, 0);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(HPET_AT, "HPET", "null");

	build_hpet(HPET_AT, 0, 0xfed00000u);
	w8(HPET_AT + 8, 0);
	sdt_fix(HPET_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(HPET_AT, "HPET", "revision");

	build_hpet(HPET_AT, 0, 0xfed00000u);
	w32(HPET_AT + 4, 52);
	sdt_fix(HPET_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(HPET_AT, "HPET", "fixed part");
}
END_TEST

START_TEST(fadt_bad_fields)
{
	build_good(false);
	list_last(FADT_AT);
	build_fadt(FADT_AT, 100, 1);
	ck_assert_int_eq(parse(), ACPI_OK);
	expect_table_rejected(FADT_AT, "FACP", "fixed part");
	ck_assert(!info.has_fadt);

	/* Bad PM timer and century values are dropped, the rest is used. */
	build_fadt(FADT_AT, 116, 1);
	w8(FADT_AT + 91, 2);
	w8(FADT_AT + 108, 0x90);
	sdt_fix(FADT_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(info.has_fadt);
	ck_assert_uint_eq(info.pm_timer_port, 0);
	ck_assert_uint_eq(info.century, 0);
	ck_assert_uint_eq(info.sci_irq, 9);
}
END_TEST

START_TEST(too_many_tables)
{
	uint64_t list[ACPI_MAX_TABLES + 8];
	uint32_t i;

	build_good(true);
	for (i = 0; i < ARRAY_SIZE(list); i++)
		list[i] = i == ACPI_MAX_TABLES + 2 ? MADT_AT : SSDT_AT;
	roots_list(list, ARRAY_SIZE(list));
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert_uint_eq(info.ntables, ACPI_MAX_TABLES);
	ck_assert_uint_eq(info.ntables_dropped, 8);
	ck_assert(!info.has_madt);	/* listed after the limit */
	expect_warn("40 tables", NULL);
}
END_TEST

/* ---- root table and RSDP ------------------------------------------------- */

START_TEST(xsdt_length_not_multiple_of_8)
{
	build_good(true);
	w32(XSDT_AT + 4, 36 + 28);	/* 3.5 entries */
	sdt_fix(XSDT_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(!info.use_xsdt);	/* fell back to the RSDT */
	ck_assert_uint_eq(info.root_phys, RSDT_AT);
	ck_assert_int_eq(host_log_count, 2);
	check_good_madt();

	/* Without an RSDT there is nothing left. */
	rsdp_build(RSDP_AT, 2, 0, XSDT_AT);
	ck_assert_int_eq(parse(), ACPI_E_ROOT);
	expect_warn("no usable", NULL);
}
END_TEST

START_TEST(xsdt_bad_checksum_falls_back)
{
	build_good(true);
	w8(XSDT_AT + 40, 0x55);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(!info.use_xsdt);
	ck_assert_uint_eq(info.ntables, 4);
	ck_assert_int_eq(host_log_count, 2);
}
END_TEST

START_TEST(root_bad_checksum)
{
	build_good(false);
	w8(RSDT_AT + 36, 0x11);
	ck_assert_int_eq(parse(), ACPI_E_ROOT);
	ck_assert_uint_eq(info.ntables, 0);
	expect_warn("no usable", NULL);
	ck_assert_int_eq(host_log_count, 2);
}
END_TEST

START_TEST(root_bad_fields)
{
	build_good(false);
	wbytes(RSDT_AT, "XSDT", 4);		/* wrong signature */
	sdt_fix(RSDT_AT);
	ck_assert_int_eq(parse(), ACPI_E_ROOT);

	build_good(false);
	w32(RSDT_AT + 4, 36 + 6);		/* 1.5 entries */
	sdt_fix(RSDT_AT);
	ck_assert_int_eq(parse(), ACPI_E_ROOT);

	build_good(false);
	w32(RSDT_AT + 4, 12);			/* shorter than the header */
	ck_assert_int_eq(parse(), ACPI_E_ROOT);

	build_good(false);
	rsdp_build(RSDP_AT, 0, 0, 0);		/* no RSDT at all */
	ck_assert_int_eq(parse(), ACPI_E_ROOT);

	build_good(false);
	rsdp_build(RSDP_AT, 0, (uint32_t)(MEM_END - 8), 0);
	ck_assert_int_eq(parse(), ACPI_E_ROOT);

	/* An empty root table is fine. */
	build_good(false);
	root_build(RSDT_AT, false, NULL, 0);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert_uint_eq(info.ntables, 0);
	ck_assert(!info.has_madt);
}
END_TEST

START_TEST(rsdp_outside_memory)
{
	build_good(false);
	ck_assert_int_eq(parse_at(MEM_END), ACPI_E_RSDP);
	expect_warn("RSDP", "not mappable");
	ck_assert_int_eq(parse_at(MEM_END - 10), ACPI_E_RSDP);
	ck_assert_int_eq(parse_at(0), ACPI_E_RSDP);
	ck_assert_int_eq(parse_at(0xfffffffffffffff8ull), ACPI_E_RSDP);
	ck_assert_int_eq(parse_at(UINT64_MAX), ACPI_E_RSDP);
}
END_TEST

START_TEST(rsdp_bad)
{
	build_good(false);
	w8(RSDP_AT + 16, 0x42);
	ck_assert_int_eq(parse(), ACPI_E_RSDP);
	expect_warn("RSDP", "checksum");

	build_good(false);
	w8(RSDP_AT, 'r');
	rsdp_fix(RSDP_AT);
	ck_assert_int_eq(parse(), ACPI_E_RSDP);
	expect_warn("RSDP", "signature");
}
END_TEST

START_TEST(rsdp_v2_bad_extension_uses_rsdt)
{
	/* Bad extended checksum. */
	build_good(true);
	w8(RSDP_AT + 33, 0x99);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(!info.use_xsdt);
	ck_assert_uint_eq(info.revision, 2);
	ck_assert_uint_eq(info.ntables, 4);

	/* Bad extended length. */
	build_good(true);
	w32(RSDP_AT + 20, 24);
	rsdp_fix(RSDP_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(!info.use_xsdt);
	w32(RSDP_AT + 20, 0x80000000u);
	rsdp_fix(RSDP_AT);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(!info.use_xsdt);

	/* Extended part runs out of memory. */
	build_good(true);
	wbytes(MEM_END - 20, at(RSDP_AT), 20);
	ck_assert_int_eq(parse_at(MEM_END - 20), ACPI_OK);
	ck_assert(!info.use_xsdt);
	ck_assert_uint_eq(info.ntables, 4);

	/* XSDT address 0 with revision 2: the RSDT, silently. */
	build_good(true);
	rsdp_build(RSDP_AT, 2, (uint32_t)RSDT_AT, 0);
	ck_assert_int_eq(parse(), ACPI_OK);
	ck_assert(!info.use_xsdt);
	ck_assert_int_eq(host_log_count, 0);
}
END_TEST

START_TEST(parse_null_args)
{
	build_good(false);
	ck_assert_int_eq(acpi_parse(RSDP_AT, NULL, NULL, &info), ACPI_E_INVAL);
	ck_assert_int_eq(acpi_parse(RSDP_AT, fake_map, &map_ctx_tag, NULL),
			 ACPI_E_INVAL);
	maps_free();
}
END_TEST

/* ---- fuzz -------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static const uint64_t fuzz_tables[] = {
	RSDT_AT, XSDT_AT, MADT_AT, HPET_AT, FADT_AT, SSDT_AT,
};

#define FUZZ_SPAN	0x6000u	/* every table and every byte fuzz_mutate writes */

static uint32_t interesting_len(uint32_t real)
{
	static const uint32_t v[] = {
		0, 1, 2, 35, 36, 37, 43, 44, 45, 55, 56, 57, 115, 116, 117,
		219, 220, 0x7fff, 0xffff, 0x10000, MEM_SIZE, 0x7fffffff,
		0xffffffff,
	};
	switch (rng() % 4) {
	case 0:
		return real + (uint32_t)(rng() % 17) - 8;
	case 1:
		return (uint32_t)rng();
	default:
		return v[rng() % ARRAY_SIZE(v)];
	}
}

static void fuzz_mutate(void)
{
	uint64_t t = fuzz_tables[rng() % ARRAY_SIZE(fuzz_tables)];
	uint32_t len = r32(t + 4), off;
	uint64_t e;

	if (len > 0x400)
		len = 0x400;
	switch (rng() % 7) {
	case 0:		/* flip a bit */
		off = (uint32_t)(rng() % (len + 16));
		*at(t + off) ^= (uint8_t)(1u << (rng() % 8));
		break;
	case 1:		/* random byte */
		off = (uint32_t)(rng() % (len + 16));
		w8(t + off, (uint8_t)rng());
		break;
	case 2:		/* table length */
		w32(t + 4, interesting_len(r32(t + 4)));
		break;
	case 3:		/* a MADT entry length or type */
		e = MADT_AT + 44;
		for (off = (uint32_t)(rng() % 12); off > 0 && at(e)[1] >= 2 &&
		     e + at(e)[1] < MADT_AT + 0x800; off--)
			e += at(e)[1];
		if (rng() & 1)
			w8(e + 1, (uint8_t)(rng() % 4 == 0 ? rng() : rng() % 20));
		else
			w8(e, (uint8_t)(rng() % 12));
		break;
	case 4:		/* a root table entry */
		t = rng() & 1 ? XSDT_AT : RSDT_AT;
		off = 36 + (uint32_t)(rng() % 4) * (t == XSDT_AT ? 8 : 4);
		switch (rng() % 4) {
		case 0:
			w32(t + off, (uint32_t)rng());
			break;
		case 1:
			w32(t + off, (uint32_t)(MEM_BASE + rng() % MEM_SIZE));
			break;
		case 2:
			w32(t + off, (uint32_t)(MEM_END - rng() % 64));
			break;
		default:
			w32(t + off, (uint32_t)fuzz_tables[rng() %
					ARRAY_SIZE(fuzz_tables)]);
			break;
		}
		break;
	case 5:		/* RSDP fields */
		switch (rng() % 4) {
		case 0:
			w8(RSDP_AT + 15, (uint8_t)rng());
			break;
		case 1:
			w32(RSDP_AT + 20, interesting_len(36));
			break;
		case 2:
			w32(RSDP_AT + 24, (uint32_t)(MEM_BASE + rng() % MEM_SIZE));
			break;
		default:
			w32(RSDP_AT + 16, (uint32_t)(MEM_BASE + rng() % MEM_SIZE));
			break;
		}
		break;
	default:	/* a table's revision */
		w8(t + 8, (uint8_t)(rng() % 8));
		break;
	}
}

START_TEST(fuzz_tables_seeded)
{
	static uint8_t good[2][MEM_SIZE];
	uint32_t iter, i, n, parsed_ok = 0, with_madt = 0, found = 0;
	long off;

	build_good(false);
	memcpy(good[0], mem, MEM_SIZE);
	build_good(true);
	memcpy(good[1], mem, MEM_SIZE);
	rng_state = 0x9e3779b97f4a7c15ull;

	for (iter = 0; iter < 20000; iter++) {
		/* Mutations stay below FUZZ_SPAN; the rest stays as built. */
		memcpy(mem, good[iter & 1], FUZZ_SPAN);
		n = 1 + (uint32_t)(rng() % 8);
		for (i = 0; i < n; i++)
			fuzz_mutate();
		if (rng() & 1) {
			for (i = 0; i < ARRAY_SIZE(fuzz_tables); i++)
				sdt_fix(fuzz_tables[i]);
			rsdp_fix(RSDP_AT);
		}
		n = (uint32_t)(rng() % 0x80);
		off = find_in(mem, n);
		REQUIRE(off == -1 || (off >= 0 && off % 16 == 0 && off + 20 <= n));
		found += off == 0;
		if (parse() == ACPI_OK) {
			parsed_ok++;
			with_madt += info.has_madt;
		} else {
			REQUIRE(info.ntables == 0 && !info.has_madt);
		}
		acpi_log_summary(&info);
	}
	ck_assert(memcmp(mem + FUZZ_SPAN, good[0] + FUZZ_SPAN,
			 MEM_SIZE - FUZZ_SPAN) == 0);
	/* The mutations must leave a mix of accepted and rejected sets. */
	ck_assert_uint_gt(parsed_ok, 1000);
	ck_assert_uint_lt(parsed_ok, 20000);
	ck_assert_uint_gt(with_madt, 1000);
	ck_assert_uint_gt(found, 1000);
}
END_TEST

static Suite *acpi_suite(void)
{
	Suite *s = suite_create("acpi");
	TCase *tc;

	tc = tcase_create("find_rsdp");
	tcase_add_test(tc, find_rsdp_v1);
	tcase_add_test(tc, find_rsdp_v2);
	tcase_add_test(tc, find_rsdp_v1_at_area_end);
	tcase_add_test(tc, find_rsdp_bad_checksum);
	tcase_add_test(tc, find_rsdp_bad_signature);
	tcase_add_test(tc, find_rsdp_v2_bad_ext_checksum);
	tcase_add_test(tc, find_rsdp_v2_bad_length);
	tcase_add_test(tc, find_rsdp_v2_truncated_by_area);
	tcase_add_test(tc, find_rsdp_unaligned_ignored);
	tcase_add_test(tc, find_rsdp_skips_bad_candidate);
	tcase_add_test(tc, find_rsdp_tiny_or_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("good");
	tcase_add_test(tc, parse_good_rsdt);
	tcase_add_test(tc, parse_good_xsdt);
	tcase_add_test(tc, parse_xsdt_unaligned);
	tcase_add_test(tc, parse_xsdt_64bit_entry_above_4g);
	tcase_add_test(tc, parse_fadt_v1);
	tcase_add_test(tc, parse_log_summary);
	suite_add_tcase(s, tc);

	tc = tcase_create("bad_tables");
	tcase_add_test(tc, bad_table_checksum);
	tcase_add_test(tc, table_length_below_header);
	tcase_add_test(tc, table_length_past_memory);
	tcase_add_test(tc, table_length_huge);
	tcase_add_test(tc, table_header_unmappable);
	tcase_add_test(tc, madt_entry_length_zero);
	tcase_add_test(tc, madt_entry_length_one);
	tcase_add_test(tc, madt_entry_past_end);
	tcase_add_test(tc, madt_truncated_entry_header);
	tcase_add_test(tc, madt_fixed_part_short);
	tcase_add_test(tc, madt_revision_zero);
	tcase_add_test(tc, madt_short_entry_skipped);
	tcase_add_test(tc, madt_too_many_cpus);
	tcase_add_test(tc, madt_too_many_ioapics_and_isos);
	tcase_add_test(tc, madt_bad_values_skipped);
	tcase_add_test(tc, duplicate_madt_first_wins);
	tcase_add_test(tc, duplicate_madt_first_invalid);
	tcase_add_test(tc, duplicate_hpet_and_fadt);
	tcase_add_test(tc, hpet_bad_fields);
	tcase_add_test(tc, fadt_bad_fields);
	tcase_add_test(tc, too_many_tables);
	suite_add_tcase(s, tc);

	tc = tcase_create("root");
	tcase_add_test(tc, xsdt_length_not_multiple_of_8);
	tcase_add_test(tc, xsdt_bad_checksum_falls_back);
	tcase_add_test(tc, root_bad_checksum);
	tcase_add_test(tc, root_bad_fields);
	tcase_add_test(tc, rsdp_outside_memory);
	tcase_add_test(tc, rsdp_bad);
	tcase_add_test(tc, rsdp_v2_bad_extension_uses_rsdt);
	tcase_add_test(tc, parse_null_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("fuzz");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fuzz_tables_seeded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(acpi_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
