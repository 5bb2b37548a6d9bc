/* power-button: waits for the ACPI power button (SCI), then powers off via \_S5_. */
#include "rt.h"

#define VEC_SCI 0x49
static u16 pm1_sts, pm1_en;
static volatile u32 pressed;

ISR_FN void sci(void)
{
    u16 st = inw(pm1_sts);
    if (st & 0x100) pressed = 1;
    if (st) outw(pm1_sts, st);           /* write 1 to clear (PWRBTN_STS and any other) */
    lapic_eoi();
}
DEFINE_ISR(sci_isr, sci);

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic; (void)mbi;
    const struct acpi_hdr *fadt = acpi_find("FACP");
    if (!fadt) { pstr("power-button: no fadt\n"); return 2; }
    int s5 = acpi_s5(fadt);
    if (s5 < 0) { pstr("power-button: no _S5_\n"); return 3; }
    u16 cnt = (u16)fadt_u32(fadt, 64);
    pm1_sts = (u16)fadt_u32(fadt, 56);
    pm1_en = (u16)(pm1_sts + fadt_u8(fadt, 88) / 2);
    u32 sci = fadt_u16(fadt, 46);
    u32 en = inw(cnt) & 1;
    pstr("power-button: sci_en="); pdec(en); pchar('\n');
    if (!en) {
        /* Not in ACPI mode (e.g. SeaBIOS): ask the firmware via SMI_CMD. */
        u32 smi_cmd = fadt_u32(fadt, 48);
        u8 enable = fadt_u8(fadt, 52);
        if (smi_cmd && enable) outb((u16)smi_cmd, enable);
        for (u32 i = 0; i < 100000 && !(inw(cnt) & 1); i++) cpu_relax();
        pstr("power-button: acpi enable via smi_cmd, sci_en="); pdec(inw(cnt) & 1); pchar('\n');
    }
    pic_mask();
    idt_set(VEC_SCI, sci_isr);
    idt_load();
    lapic_enable();
    ioapic_route((int)sci, VEC_SCI, IOAPIC_LEVEL, lapic_id());
    outw(pm1_en, inw(pm1_en) | 0x100);  /* PWRBTN_EN */
    pstr("power-button: waiting\n");
    while (!pressed) sti_hlt();
    cli();
    pstr("power-button: pressed\n");
    pstr("power-button: powering off\n");
    acpi_poweroff(fadt, s5);
    delay_tsc(3000000000ull);              /* ~1-3 s: QEMU shuts down asynchronously */
    pstr("power-button: still running\n");
    return 1;
}
