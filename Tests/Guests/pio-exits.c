/* pio-exits: N x "outb %al, $0x80" from ring 3 (IOPL=3). */
#include "rt.h"
#include "user.h"

static u32 count;

static void user_main(void)
{
    for (u32 i = count; i; i--) __asm__ volatile("outb %%al, $0x80" :: "a"(0) : "memory");
    pstr("pio-exits: done "); pdec(count); pchar('\n');
    outb(0xf4, 0);
    for (;;) {}
}

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic;
    count = cmdline_uint(mbi, "count", 1000000);
    enter_user(user_main);
}
