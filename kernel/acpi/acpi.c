/*
 * acpi.c - parser for the static ACPI tables: RSDP, RSDT/XSDT, MADT, HPET
 * and FADT.
 *
 * Portable (kernel and host unit tests): memory is only reached through the
 * caller's map function, and the only dependencies are klog() and the
 * rill/string.h routines.
 *
 * Nothing the firmware wrote is trusted:
 *  - every read goes through a pointer returned by map() for a range that
 *    covers it: a table is first mapped for its 36-byte header, then for the
 *    length the header claims, and only the bytes [0, length) are read;
 *  - multi-byte fields are assembled byte by byte (little endian), so
 *    unaligned fields such as XSDT entries are never loaded through a
 *    misaligned pointer;
 *  - phys + len is checked for overflow before map() is asked for it;
 *  - output arrays are filled with an explicit bound; extra entries are
 *    counted in *_dropped and logged once, never written.
 *
 * Decisions:
 *  - RSDP: a bad signature or first checksum makes acpi_parse() fail. When
 *    the revision is >= 2 but the extended length or checksum is bad, the
 *    XSDT pointer (which only the extended checksum covers) is ignored and
 *    the RSDT is used, with a warning.
 *  - Root table: the XSDT is used when usable, else the RSDT; a root table
 *    whose length does not hold a whole number of entries is unusable.
 *  - MADT framing is checked in a first pass over the whole table. An entry
 *    with length < 2 or running past the table end makes the whole MADT
 *    invalid: nothing from it is kept (a checksum-correct table with broken
 *    framing cannot be trusted, and all-or-nothing lets a later valid
 *    duplicate MADT take over). An entry whose framing is fine but which is
 *    shorter than its type requires, or carries impossible values, is
 *    skipped with a warning and the rest of the table is used.
 *  - Duplicates: the first valid MADT/HPET/FADT wins; later ones are still
 *    checked (and marked invalid when broken) but their contents are unused.
 *  - A table with revision 0 is rejected for MADT, HPET and FADT (no ACPI
 *    version defines one). Newer FADT fields are read only when both the
 *    revision and the length say they are present.
 */
#include <kernel/acpi.h>
#include <kernel/log.h>
#include <kernel/types.h>
#include <rill/string.h>

/* Offsets into the RSDP. */
#define RSDP_SIG		0
#define RSDP_CHECKSUM		8
#define RSDP_REVISION		15
#define RSDP_RSDT		16
#define RSDP_LENGTH		20
#define RSDP_XSDT		24

/* Offsets into the common SDT header. */
#define SDT_SIG			0
#define SDT_LENGTH		4
#define SDT_REVISION		8
#define SDT_OEM_ID		10

/* MADT */
#define MADT_LAPIC_ADDR		36
#define MADT_FLAGS		40
#define MADT_ENTRIES		44
#define MADT_PCAT_COMPAT	0x1

#define MADT_LAPIC		0
#define MADT_IOAPIC		1
#define MADT_ISO		2
#define MADT_NMI_SOURCE		3
#define MADT_LAPIC_NMI		4
#define MADT_LAPIC_OVERRIDE	5
#define MADT_X2APIC		9
#define MADT_X2APIC_NMI		10

#define LAPIC_ENABLED		0x1
#define LAPIC_ONLINE_CAPABLE	0x2

/* HPET */
#define HPET_BASE_SPACE		40	/* generic address structure */
#define HPET_BASE_ADDR		44
#define HPET_NUMBER		52
#define HPET_MIN_TICK		53
#define HPET_FIXED_LEN		56

/* FADT */
#define FADT_SCI_INT		46
#define FADT_PM_TMR_BLK		76
#define FADT_PM_TMR_LEN		91
#define FADT_CENTURY		108
#define FADT_BOOT_ARCH		109
#define FADT_FLAGS		112
#define FADT_V1_LEN		116
#define FADT_X_PM_TMR_BLK	208	/* generic address structure */
#define FADT_X_PM_TMR_END	220
#define FADT_REV_ACPI2		3
#define FADT_TMR_VAL_EXT	(1u << 8)

#define GAS_SPACE_MEMORY	0
#define GAS_SPACE_IO		1

struct acpi_parser {
	acpi_map_fn map;
	void *ctx;
	struct acpi_info *out;
	uint32_t bad_off;	/* offset of the entry a reason refers to */
	bool has_bad_off;
};

static uint16_t acpi_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t acpi_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t acpi_rd64(const uint8_t *p)
{
	return (uint64_t)acpi_rd32(p) | (uint64_t)acpi_rd32(p + 4) << 32;
}

static uint8_t acpi_sum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return sum;
}

static unsigned long long acpi_ull(uint64_t v)
{
	return (unsigned long long)v;
}

/* map() with the overflow check done here rather than trusted to it. */
static const uint8_t *acpi_map(struct acpi_parser *ps, uint64_t phys,
			       size_t len)
{
	if (len == 0 || phys > UINT64_MAX - (len - 1))
		return NULL;
	return ps->map(phys, len, ps->ctx);
}

/* Copies n firmware bytes as printable ASCII, stopping at a NUL. */
static void acpi_copy_name(char *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && src[i] != 0; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
	dst[i] = '\0';
}

static bool acpi_rsdp_ext_len_ok(uint32_t len)
{
	return len >= ACPI_RSDP_V2_LEN && len <= ACPI_RSDP_MAX_LEN;
}

long acpi_find_rsdp(const void *area, size_t len)
{
	const uint8_t *a = area;
	size_t off;

	if (!a || len < ACPI_RSDP_V1_LEN)
		return -1;
	for (off = 0; off <= len - ACPI_RSDP_V1_LEN; off += 16) {
		const uint8_t *r = a + off;
		uint32_t ext;

		if (memcmp(r + RSDP_SIG, "RSD PTR ", 8) != 0)
			continue;
		if (acpi_sum(r, ACPI_RSDP_V1_LEN) != 0)
			continue;
		if (r[RSDP_REVISION] < 2)
			return (long)off;
		if (len - off < ACPI_RSDP_V2_LEN)
			continue;
		ext = acpi_rd32(r + RSDP_LENGTH);
		if (!acpi_rsdp_ext_len_ok(ext) || ext > len - off)
			continue;
		if (acpi_sum(r, ext) != 0)
			continue;
		return (long)off;
	}
	return -1;
}

/*
 * Maps the table at phys and checks what every table must satisfy. ref gets
 * whatever the header says as soon as the header is mapped. Returns NULL and
 * sets *body on success, else a static reason.
 */
static const char *acpi_load_sdt(struct acpi_parser *ps, uint64_t phys,
				 struct acpi_table_ref *ref,
				 const uint8_t **body)
{
	const uint8_t *h, *p;
	uint32_t len;
	size_t n;

	memset(ref, 0, sizeof(*ref));
	memcpy(ref->sig, "????", 5);
	ref->phys = phys;
	*body = NULL;
	if (phys == 0)
		return "null table address";
	h = acpi_map(ps, phys, ACPI_SDT_HEADER_LEN);
	if (!h)
		return "header not mappable";
	for (n = 0; n < 4; n++) {
		uint8_t c = h[SDT_SIG + n];

		ref->sig[n] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	ref->sig[4] = '\0';
	len = acpi_rd32(h + SDT_LENGTH);
	ref->length = len;
	ref->revision = h[SDT_REVISION];
	acpi_copy_name(ref->oem_id, h + SDT_OEM_ID, 6);
	for (n = strlen(ref->oem_id); n > 0 && ref->oem_id[n - 1] == ' '; n--)
		ref->oem_id[n - 1] = '\0';

	if (len < ACPI_SDT_HEADER_LEN)
		return "length shorter than the header";
	if (len > ACPI_MAX_TABLE_LEN)
		return "length too large";
	p = acpi_map(ps, phys, len);
	if (!p)
		return "length runs past mappable memory";
	if (acpi_sum(p, len) != 0)
		return "bad checksum";
	*body = p;
	return NULL;
}

static void acpi_warn_table(struct acpi_parser *ps,
			    const struct acpi_table_ref *ref, const char *why)
{
	if (ps->has_bad_off)
		klog(LOG_WARN, "acpi: %s at %#llx (length %u): %s at offset %u, table ignored",
		     ref->sig, acpi_ull(ref->phys), ref->length, why,
		     ps->bad_off);
	else
		klog(LOG_WARN, "acpi: %s at %#llx (length %u): %s, table ignored",
		     ref->sig, acpi_ull(ref->phys), ref->length, why);
	ps->has_bad_off = false;
}

/* ---- MADT ------------------------------------------------------------- */

/* Fixed size of each entry type the parser reads, 0 for ignored types. */
static uint32_t acpi_madt_min_len(uint8_t type)
{
	switch (type) {
	case MADT_LAPIC:		return 8;
	case MADT_IOAPIC:		return 12;
	case MADT_ISO:			return 10;
	case MADT_LAPIC_NMI:		return 6;
	case MADT_LAPIC_OVERRIDE:	return 12;
	case MADT_X2APIC:		return 16;
	case MADT_X2APIC_NMI:		return 12;
	default:			return 0;
	}
}

/* Checks the fixed part and the framing of every entry. */
static const char *acpi_madt_check(struct acpi_parser *ps, const uint8_t *p,
				   uint32_t len, uint8_t revision)
{
	uint32_t off;

	if (len < MADT_ENTRIES)
		return "length shorter than the MADT fixed part";
	if (revision == 0)
		return "bad revision 0";
	for (off = MADT_ENTRIES; off < len; ) {
		uint32_t elen;

		if (len - off < 2) {
			ps->bad_off = off;
			ps->has_bad_off = true;
			return "truncated MADT entry header";
		}
		elen = p[off + 1];
		if (elen < 2) {
			ps->bad_off = off;
			ps->has_bad_off = true;
			return "MADT entry length < 2";
		}
		if (elen > len - off) {
			ps->bad_off = off;
			ps->has_bad_off = true;
			return "MADT entry runs past the table end";
		}
		off += elen;
	}
	return NULL;
}

/* Records a CPU; duplicates and entries past ACPI_MAX_CPUS are counted. */
static void acpi_add_cpu(struct acpi_parser *ps, uint32_t uid,
			 uint32_t apic_id, uint32_t flags, bool x2apic,
			 uint32_t *overflow)
{
	struct acpi_info *out = ps->out;
	struct acpi_cpu *cpu;
	uint32_t i;

	if ((!x2apic && apic_id == 0xff) || (x2apic && apic_id == 0xffffffffu)) {
		klog(LOG_WARN, "acpi: MADT: CPU uid %u has the broadcast APIC ID %#x, skipped",
		     uid, apic_id);
		return;
	}
	for (i = 0; i < out->ncpus; i++) {
		if (out->cpus[i].apic_id == apic_id) {
			klog(LOG_WARN, "acpi: MADT: duplicate APIC ID %u (uid %u), skipped",
			     apic_id, uid);
			out->ncpus_dropped++;
			return;
		}
	}
	if (out->ncpus >= ACPI_MAX_CPUS) {
		out->ncpus_dropped++;
		(*overflow)++;
		return;
	}
	cpu = &out->cpus[out->ncpus++];
	cpu->acpi_uid = uid;
	cpu->apic_id = apic_id;
	cpu->enabled = (flags & LAPIC_ENABLED) != 0;
	cpu->online_capable = !cpu->enabled && (flags & LAPIC_ONLINE_CAPABLE);
	cpu->x2apic = x2apic;
}

static void acpi_add_ioapic(struct acpi_parser *ps, const uint8_t *e,
			    uint32_t *overflow)
{
	struct acpi_info *out = ps->out;
	struct acpi_ioapic *io;
	uint32_t phys = acpi_rd32(e + 4);

	if (phys == 0) {
		klog(LOG_WARN, "acpi: MADT: I/O APIC %u has a null address, skipped",
		     e[2]);
		return;
	}
	if (out->nioapics >= ACPI_MAX_IOAPICS) {
		out->nioapics_dropped++;
		(*overflow)++;
		return;
	}
	io = &out->ioapics[out->nioapics++];
	io->id = e[2];
	io->phys = phys;
	io->gsi_base = acpi_rd32(e + 8);
}

static void acpi_add_iso(struct acpi_parser *ps, const uint8_t *e,
			 uint32_t *overflow)
{
	struct acpi_info *out = ps->out;
	struct acpi_iso *iso;
	uint8_t bus = e[2], irq = e[3];
	uint32_t i;

	if (bus != 0 || irq > 15) {
		klog(LOG_WARN, "acpi: MADT: override for bus %u IRQ %u is not an ISA IRQ, skipped",
		     bus, irq);
		return;
	}
	for (i = 0; i < out->nisos; i++) {
		if (out->isos[i].source_irq == irq) {
			klog(LOG_WARN, "acpi: MADT: second override for IRQ %u, skipped",
			     irq);
			return;
		}
	}
	if (out->nisos >= ACPI_MAX_ISOS) {
		out->nisos_dropped++;
		(*overflow)++;
		return;
	}
	iso = &out->isos[out->nisos++];
	iso->bus = bus;
	iso->source_irq = irq;
	iso->gsi = acpi_rd32(e + 4);
	iso->flags = acpi_rd16(e + 8);
}

/* Uses a MADT that acpi_madt_check() accepted. */
static void acpi_madt_apply(struct acpi_parser *ps, const uint8_t *p,
			    uint32_t len)
{
	struct acpi_info *out = ps->out;
	uint32_t cpu_over = 0, ioapic_over = 0, iso_over = 0;
	uint64_t lapic_override = 0;
	bool overridden = false;
	uint32_t off;

	out->has_madt = true;
	out->lapic_phys = acpi_rd32(p + MADT_LAPIC_ADDR);
	out->pcat_compat = (acpi_rd32(p + MADT_FLAGS) & MADT_PCAT_COMPAT) != 0;

	for (off = MADT_ENTRIES; off < len; off += p[off + 1]) {
		const uint8_t *e = p + off;
		uint8_t type = e[0];
		uint32_t elen = e[1];
		uint32_t min = acpi_madt_min_len(type);

		if (elen < min) {
			klog(LOG_WARN, "acpi: MADT: entry type %u at offset %u has length %u < %u, skipped",
			     type, off, elen, min);
			continue;
		}
		switch (type) {
		case MADT_LAPIC:
			acpi_add_cpu(ps, e[2], e[3], acpi_rd32(e + 4), false,
				     &cpu_over);
			break;
		case MADT_X2APIC:
			acpi_add_cpu(ps, acpi_rd32(e + 12), acpi_rd32(e + 4),
				     acpi_rd32(e + 8), true, &cpu_over);
			break;
		case MADT_IOAPIC:
			acpi_add_ioapic(ps, e, &ioapic_over);
			break;
		case MADT_ISO:
			acpi_add_iso(ps, e, &iso_over);
			break;
		case MADT_LAPIC_NMI:
		case MADT_X2APIC_NMI:
			out->nlapic_nmis++;
			break;
		case MADT_LAPIC_OVERRIDE:
			if (overridden) {
				klog(LOG_WARN, "acpi: MADT: extra LAPIC address override ignored");
			} else if (acpi_rd64(e + 4) == 0) {
				klog(LOG_WARN, "acpi: MADT: null LAPIC address override ignored");
			} else {
				lapic_override = acpi_rd64(e + 4);
				overridden = true;
			}
			break;
		default:
			klog(LOG_DEBUG, "acpi: MADT: entry type %u ignored", type);
			break;
		}
	}
	if (overridden)
		out->lapic_phys = lapic_override;
	if (out->lapic_phys == 0) {
		klog(LOG_WARN, "acpi: MADT: null local APIC address, using %#x",
		     ACPI_DEFAULT_LAPIC_PHYS);
		out->lapic_phys = ACPI_DEFAULT_LAPIC_PHYS;
	}
	if (cpu_over)
		klog(LOG_WARN, "acpi: MADT: more than %u CPUs, %u dropped",
		     ACPI_MAX_CPUS, cpu_over);
	if (ioapic_over)
		klog(LOG_WARN, "acpi: MADT: more than %u I/O APICs, %u dropped",
		     ACPI_MAX_IOAPICS, ioapic_over);
	if (iso_over)
		klog(LOG_WARN, "acpi: MADT: more than %u interrupt overrides, %u dropped",
		     ACPI_MAX_ISOS, iso_over);
}

/* ---- HPET ------------------------------------------------------------- */

static const char *acpi_hpet_check(const uint8_t *p, uint32_t len,
				   uint8_t revision)
{
	if (len < HPET_FIXED_LEN)
		return "length shorter than the HPET fixed part";
	if (revision == 0)
		return "bad revision 0";
	if (p[HPET_BASE_SPACE] != GAS_SPACE_MEMORY)
		return "HPET base address not in system memory";
	if (acpi_rd64(p + HPET_BASE_ADDR) == 0)
		return "null HPET base address";
	return NULL;
}

static void acpi_hpet_apply(struct acpi_parser *ps, const uint8_t *p)
{
	struct acpi_info *out = ps->out;

	out->has_hpet = true;
	out->hpet_phys = acpi_rd64(p + HPET_BASE_ADDR);
	out->hpet_number = p[HPET_NUMBER];
	out->hpet_min_tick = acpi_rd16(p + HPET_MIN_TICK);
}

/* ---- FADT ------------------------------------------------------------- */

static const char *acpi_fadt_check(uint32_t len, uint8_t revision)
{
	if (len < FADT_V1_LEN)
		return "length shorter than the FADT fixed part";
	if (revision == 0)
		return "bad revision 0";
	return NULL;
}

static void acpi_fadt_apply(struct acpi_parser *ps, const uint8_t *p,
			    uint32_t len, uint8_t revision)
{
	struct acpi_info *out = ps->out;
	uint32_t tmr = acpi_rd32(p + FADT_PM_TMR_BLK);
	uint8_t century = p[FADT_CENTURY];

	out->has_fadt = true;
	out->sci_irq = acpi_rd16(p + FADT_SCI_INT);
	out->fadt_flags = acpi_rd32(p + FADT_FLAGS);
	out->pm_timer_32bit = (out->fadt_flags & FADT_TMR_VAL_EXT) != 0;

	if (tmr != 0 && p[FADT_PM_TMR_LEN] == 4 && tmr <= 0xffff - 3)
		out->pm_timer_port = tmr;
	else if (tmr != 0)
		klog(LOG_WARN, "acpi: FADT: bad PM timer block %#x (length %u) ignored",
		     tmr, p[FADT_PM_TMR_LEN]);

	if (revision >= FADT_REV_ACPI2 && len >= FADT_X_PM_TMR_END) {
		const uint8_t *gas = p + FADT_X_PM_TMR_BLK;
		uint64_t addr = acpi_rd64(gas + 4);

		if (addr != 0 && gas[0] == GAS_SPACE_IO && addr <= 0xffff - 3)
			out->pm_timer_port = (uint32_t)addr;
		else if (addr != 0)
			klog(LOG_DEBUG, "acpi: FADT: X_PM_TMR_BLK %#llx in space %u not used",
			     acpi_ull(addr), gas[0]);
	}

	/* The consumer writes this to port 0x70, where bit 7 masks NMIs. */
	if (century < 0x80) {
		out->century = century;
	} else {
		klog(LOG_WARN, "acpi: FADT: bad century index %#x ignored",
		     century);
	}
	if (revision >= FADT_REV_ACPI2)
		out->boot_arch = acpi_rd16(p + FADT_BOOT_ARCH);
}

/* ---- tables ----------------------------------------------------------- */

/*
 * Checks a table by signature and, if it is the first valid one of its kind,
 * uses it. Returns NULL or a static reason for rejecting it.
 */
static const char *acpi_dispatch(struct acpi_parser *ps,
				 const struct acpi_table_ref *ref,
				 const uint8_t *p)
{
	struct acpi_info *out = ps->out;
	const char *why;

	if (memcmp(p, "APIC", 4) == 0) {
		why = acpi_madt_check(ps, p, ref->length, ref->revision);
		if (why)
			return why;
		if (out->has_madt)
			klog(LOG_WARN, "acpi: duplicate MADT at %#llx ignored",
			     acpi_ull(ref->phys));
		else
			acpi_madt_apply(ps, p, ref->length);
	} else if (memcmp(p, "HPET", 4) == 0) {
		why = acpi_hpet_check(p, ref->length, ref->revision);
		if (why)
			return why;
		if (out->has_hpet)
			klog(LOG_WARN, "acpi: duplicate HPET at %#llx ignored",
			     acpi_ull(ref->phys));
		else
			acpi_hpet_apply(ps, p);
	} else if (memcmp(p, "FACP", 4) == 0) {
		why = acpi_fadt_check(ref->length, ref->revision);
		if (why)
			return why;
		if (out->has_fadt)
			klog(LOG_WARN, "acpi: duplicate FADT at %#llx ignored",
			     acpi_ull(ref->phys));
		else
			acpi_fadt_apply(ps, p, ref->length, ref->revision);
	}
	return NULL;
}

/*
 * Loads the XSDT (xsdt=true) or RSDT at phys. Returns 0 and the entry array
 * and count, or -1 after logging why it is unusable.
 */
static int acpi_load_root(struct acpi_parser *ps, uint64_t phys, bool xsdt,
			  const uint8_t **entries, uint32_t *count)
{
	const char *name = xsdt ? "XSDT" : "RSDT";
	uint32_t esize = xsdt ? 8 : 4;
	struct acpi_table_ref ref;
	const uint8_t *p;
	const char *why;

	why = acpi_load_sdt(ps, phys, &ref, &p);
	if (!why && memcmp(p, name, 4) != 0)
		why = "wrong signature";
	if (!why && (ref.length - ACPI_SDT_HEADER_LEN) % esize != 0)
		why = "length not a whole number of entries";
	if (why) {
		klog(LOG_WARN, "acpi: %s at %#llx (signature %s, length %u): %s",
		     name, acpi_ull(phys), ref.sig, ref.length, why);
		return -1;
	}
	ps->out->root_phys = phys;
	ps->out->root_length = ref.length;
	*entries = p + ACPI_SDT_HEADER_LEN;
	*count = (ref.length - ACPI_SDT_HEADER_LEN) / esize;
	return 0;
}

/*
 * Reads the RSDP. Returns 0 with the RSDT and XSDT addresses (XSDT 0 when
 * absent or untrusted), or ACPI_E_RSDP.
 */
static int acpi_read_rsdp(struct acpi_parser *ps, uint64_t phys,
			  uint64_t *rsdt, uint64_t *xsdt)
{
	const uint8_t *r;
	uint32_t ext;

	*rsdt = 0;
	*xsdt = 0;
	r = acpi_map(ps, phys, ACPI_RSDP_V1_LEN);
	if (!r) {
		klog(LOG_WARN, "acpi: RSDP at %#llx not mappable", acpi_ull(phys));
		return ACPI_E_RSDP;
	}
	if (memcmp(r + RSDP_SIG, "RSD PTR ", 8) != 0) {
		klog(LOG_WARN, "acpi: RSDP at %#llx: bad signature", acpi_ull(phys));
		return ACPI_E_RSDP;
	}
	if (acpi_sum(r, ACPI_RSDP_V1_LEN) != 0) {
		klog(LOG_WARN, "acpi: RSDP at %#llx: bad checksum", acpi_ull(phys));
		return ACPI_E_RSDP;
	}
	ps->out->revision = r[RSDP_REVISION];
	*rsdt = acpi_rd32(r + RSDP_RSDT);
	if (r[RSDP_REVISION] < 2)
		return 0;

	r = acpi_map(ps, phys, ACPI_RSDP_V2_LEN);
	if (!r) {
		klog(LOG_WARN, "acpi: RSDP at %#llx: extended part not mappable, using the RSDT",
		     acpi_ull(phys));
		return 0;
	}
	ext = acpi_rd32(r + RSDP_LENGTH);
	if (!acpi_rsdp_ext_len_ok(ext)) {
		klog(LOG_WARN, "acpi: RSDP at %#llx: bad length %u, using the RSDT",
		     acpi_ull(phys), ext);
		return 0;
	}
	r = acpi_map(ps, phys, ext);
	if (!r) {
		klog(LOG_WARN, "acpi: RSDP at %#llx: length %u runs past mappable memory, using the RSDT",
		     acpi_ull(phys), ext);
		return 0;
	}
	if (acpi_sum(r, ext) != 0) {
		klog(LOG_WARN, "acpi: RSDP at %#llx: bad extended checksum, using the RSDT",
		     acpi_ull(phys));
		return 0;
	}
	*xsdt = acpi_rd64(r + RSDP_XSDT);
	return 0;
}

int acpi_parse(uint64_t rsdp_phys, acpi_map_fn map, void *ctx,
	       struct acpi_info *out)
{
	struct acpi_parser ps = { .map = map, .ctx = ctx, .out = out };
	const uint8_t *entries = NULL;
	uint64_t rsdt, xsdt;
	uint32_t count = 0, esize, i;
	int ret;

	if (!map || !out)
		return ACPI_E_INVAL;
	memset(out, 0, sizeof(*out));
	out->rsdp_phys = rsdp_phys;

	ret = acpi_read_rsdp(&ps, rsdp_phys, &rsdt, &xsdt);
	if (ret < 0)
		return ret;

	if (xsdt != 0 && acpi_load_root(&ps, xsdt, true, &entries, &count) == 0) {
		out->use_xsdt = true;
	} else {
		if (xsdt != 0)
			klog(LOG_WARN, "acpi: falling back to the RSDT");
		if (rsdt == 0 ||
		    acpi_load_root(&ps, rsdt, false, &entries, &count) < 0) {
			klog(LOG_WARN, "acpi: no usable RSDT or XSDT");
			return ACPI_E_ROOT;
		}
	}
	esize = out->use_xsdt ? 8 : 4;

	for (i = 0; i < count; i++) {
		const uint8_t *e = entries + (size_t)i * esize;
		uint64_t phys = out->use_xsdt ? acpi_rd64(e) : acpi_rd32(e);
		struct acpi_table_ref *ref;
		const uint8_t *p;
		const char *why;

		if (out->ntables >= ACPI_MAX_TABLES) {
			out->ntables_dropped = count - i;
			klog(LOG_WARN, "acpi: root table lists %u tables, only %u kept",
			     count, ACPI_MAX_TABLES);
			break;
		}
		ref = &out->tables[out->ntables++];
		why = acpi_load_sdt(&ps, phys, ref, &p);
		if (!why)
			why = acpi_dispatch(&ps, ref, p);
		if (why) {
			ref->error = why;
			acpi_warn_table(&ps, ref, why);
			continue;
		}
		ref->valid = true;
	}
	return ACPI_OK;
}

/* ---- summary ---------------------------------------------------------- */

static const char *acpi_polarity_name(uint16_t flags)
{
	switch (flags & ACPI_ISO_POLARITY_MASK) {
	case ACPI_ISO_POLARITY_BUS:	return "bus";
	case ACPI_ISO_POLARITY_HIGH:	return "high";
	case ACPI_ISO_POLARITY_LOW:	return "low";
	default:			return "reserved";
	}
}

static const char *acpi_trigger_name(uint16_t flags)
{
	switch (flags & ACPI_ISO_TRIGGER_MASK) {
	case ACPI_ISO_TRIGGER_BUS:	return "bus";
	case ACPI_ISO_TRIGGER_EDGE:	return "edge";
	case ACPI_ISO_TRIGGER_LEVEL:	return "level";
	default:			return "reserved";
	}
}

static void acpi_log_madt(const struct acpi_info *info)
{
	uint32_t i, n, enabled = 0;

	n = MIN(info->ncpus, (uint32_t)ACPI_MAX_CPUS);
	for (i = 0; i < n; i++)
		enabled += info->cpus[i].enabled;
	klog(LOG_INFO, "acpi: MADT: local APIC at %#llx, %s, %u CPUs (%u enabled), %u NMI entries",
	     acpi_ull(info->lapic_phys),
	     info->pcat_compat ? "8259 present" : "no 8259", n, enabled,
	     info->nlapic_nmis);
	for (i = 0; i < n; i++) {
		const struct acpi_cpu *c = &info->cpus[i];

		klog(LOG_INFO, "acpi:   CPU uid %u APIC ID %u%s%s", c->acpi_uid,
		     c->apic_id, c->x2apic ? " (x2APIC)" : "",
		     c->enabled ? "" :
		     c->online_capable ? " online-capable" : " disabled");
	}
	if (info->ncpus_dropped)
		klog(LOG_INFO, "acpi:   %u CPU entries dropped", info->ncpus_dropped);

	n = MIN(info->nioapics, (uint32_t)ACPI_MAX_IOAPICS);
	for (i = 0; i < n; i++)
		klog(LOG_INFO, "acpi:   I/O APIC %u at %#x, GSI base %u",
		     info->ioapics[i].id, info->ioapics[i].phys,
		     info->ioapics[i].gsi_base);
	if (info->nioapics_dropped)
		klog(LOG_INFO, "acpi:   %u I/O APIC entries dropped",
		     info->nioapics_dropped);

	n = MIN(info->nisos, (uint32_t)ACPI_MAX_ISOS);
	for (i = 0; i < n; i++) {
		const struct acpi_iso *o = &info->isos[i];

		klog(LOG_INFO, "acpi:   IRQ %u -> GSI %u, polarity %s, trigger %s",
		     o->source_irq, o->gsi, acpi_polarity_name(o->flags),
		     acpi_trigger_name(o->flags));
	}
	if (info->nisos_dropped)
		klog(LOG_INFO, "acpi:   %u interrupt overrides dropped",
		     info->nisos_dropped);
}

void acpi_log_summary(const struct acpi_info *info)
{
	uint32_t i, n;

	if (!info)
		return;
	n = MIN(info->ntables, (uint32_t)ACPI_MAX_TABLES);
	klog(LOG_INFO, "acpi: RSDP rev %u at %#llx, %s at %#llx (length %u), %u tables",
	     info->revision, acpi_ull(info->rsdp_phys),
	     info->use_xsdt ? "XSDT" : "RSDT", acpi_ull(info->root_phys),
	     info->root_length, n);
	for (i = 0; i < n; i++) {
		const struct acpi_table_ref *t = &info->tables[i];

		if (t->valid)
			klog(LOG_INFO, "acpi:   %-4.4s %#018llx len %7u rev %3u OEM %s",
			     t->sig, acpi_ull(t->phys), t->length, t->revision,
			     t->oem_id);
		else
			klog(LOG_INFO, "acpi:   %-4.4s %#018llx len %7u rev %3u OEM %s INVALID: %s",
			     t->sig, acpi_ull(t->phys), t->length, t->revision,
			     t->oem_id, t->error ? t->error : "?");
	}
	if (info->ntables_dropped)
		klog(LOG_INFO, "acpi:   %u more tables not examined",
		     info->ntables_dropped);

	if (info->has_madt)
		acpi_log_madt(info);
	else
		klog(LOG_INFO, "acpi: no MADT");

	if (info->has_hpet)
		klog(LOG_INFO, "acpi: HPET %u at %#llx, minimum tick %u",
		     info->hpet_number, acpi_ull(info->hpet_phys),
		     info->hpet_min_tick);
	else
		klog(LOG_INFO, "acpi: no HPET");

	if (info->has_fadt)
		klog(LOG_INFO, "acpi: FADT: SCI IRQ %u, PM timer port %#x (%u-bit), century %#x, boot flags %#x",
		     info->sci_irq, info->pm_timer_port,
		     info->pm_timer_32bit ? 32 : 24, info->century,
		     info->boot_arch);
	else
		klog(LOG_INFO, "acpi: no FADT");
}
