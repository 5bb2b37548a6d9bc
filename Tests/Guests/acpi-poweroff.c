/* acpi-poweroff: RSDP -> XSDT/RSDT -> FADT -> DSDT \_S5_, then SLP_TYPa|SLP_EN. */
#include "rt.h"

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic; (void)mbi;
    const struct acpi_hdr *fadt = acpi_find("FACP");
    if (!fadt) { pstr("acpi: no fadt\n"); return 2; }
    int s5 = acpi_s5(fadt);
    if (s5 < 0) { pstr("acpi: no _S5_\n"); return 3; }
    pstr("acpi: fadt pm1a_cnt=0x"); phex(fadt_u32(fadt, 64));
    pstr(" s5="); pdec((u32)s5); pchar('\n');
    pstr("acpi: powering off\n");
    acpi_poweroff(fadt, s5);
    delay_tsc(3000000000ull);              /* ~1-3 s: QEMU shuts down asynchronously */
    pstr("acpi: still running\n");
    return 1;
}
