/* echo: interrupt-driven COM1 receive (IOAPIC pin 4); echoes lines until "quit".
 * Flow control instead of dropping input: when its ring is full the ISR leaves the rest
 * in the UART and turns the receive interrupt off; the main loop turns it back on once
 * it has made room, and the data still waiting raises a new interrupt. */
#include "rt.h"

#define VEC_UART 0x44
static volatile u8 rx[256];
static volatile u8 rx_head, rx_tail;    /* written by ISR / main loop only */
static volatile u8 rx_paused;

ISR_FN void uart_rx(void)
{
    while (inb(COM1 + 5) & 1) {
        if ((u8)(rx_head + 1) == rx_tail) {
            outb(COM1 + 1, 0x00);         /* ring full: stop receive interrupts */
            rx_paused = 1;
            break;
        }
        rx[rx_head] = inb(COM1);
        rx_head++;
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
        if (rx_paused) {                  /* room again: let the UART interrupt us */
            cli();
            rx_paused = 0;
            outb(COM1 + 1, 0x01);
            __asm__ volatile("sti");
        }
        if (c == '\r') continue;
        if (c != '\n') { if (len < sizeof(line) - 1) line[len++] = c; continue; }
        line[len] = 0;
        len = 0;
        if (!memcmp(line, "quit", 5)) { pstr("echo: bye\n"); return 0; }
        pstr("echo: "); pstr(line); pchar('\n');
    }
}
