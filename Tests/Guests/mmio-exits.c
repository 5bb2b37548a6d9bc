/* mmio-exits: N x 32-bit store to 0xd0000000 (unmapped MMIO hole) from ring 3. */
#include "rt.h"
#include "user.h"

static u32 count;

static void user_main(void)
{
    for (u32 i = count; i; i--) mmio_write(0xd0000000u, i);
    pstr("mmio-exits: done "); pdec(count); pchar('\n');
    outb(0xf4, 0);
    for (;;) {}
}

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic;
    count = cmdline_uint(mbi, "count", 1000000);
    enter_user(user_main);
}
