/* echo: interrupt-driven COM1 receive (IOAPIC pin 4); echoes lines until "quit". */
#include "rt.h"

#define VEC_UART 0x44
static volatile u8 rx[256];
static volatile u8 rx_head, rx_tail;    /* written by ISR / main loop only */

ISR_FN void uart_rx(void)
{
    while (inb(COM1 + 5) & 1) {
        u8 c = inb(COM1);
        if ((u8)(rx_head + 1) != rx_tail) { rx[rx_head] = c; rx_head++; }
    }
    lapic_eoi();
}
DEFINE_ISR(uart_isr, uart_rx);

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic; (void)mbi;
    char line[128];
    u32 len = 0;
    outb(COM1 + 1, 0x00);            /* IER off: firmware may have left the IRQ line high */
    pic_mask();
    idt_set(VEC_UART, uart_isr);
    idt_load();
    lapic_enable();
    ioapic_route(4, VEC_UART, 0, lapic_id());
    outb(COM1 + 4, 0x0b);            /* MCR: DTR, RTS, OUT2 */
    outb(COM1 + 1, 0x01);            /* IER: received data available */
    pstr("echo: ready\n");
    for (;;) {
        cli();
        if (rx_tail == rx_head) { sti_hlt(); continue; }
        __asm__ volatile("sti");
        char c = (char)rx[rx_tail];
        rx_tail++;
        if (c == '\r') continue;
        if (c != '\n') { if (len < sizeof(line) - 1) line[len++] = c; continue; }
        line[len] = 0;
        len = 0;
        if (!memcmp(line, "quit", 5)) { pstr("echo: bye\n"); return 0; }
        pstr("echo: "); pstr(line); pchar('\n');
    }
}
