/* reboot: asks for a reset through the i8042 reset line (command 0xFE on port 0x64),
 * as Linux's reboot=kbd does. The VMM boots the guest again (or exits with --no-reboot). */
#include "rt.h"

int kmain(u32 magic, const struct mb_info *mbi)
{
    (void)magic; (void)mbi;
    pstr("reboot: resetting\n");
    outb(0x64, 0xFE);
    delay_tsc(3000000000ull);
    pstr("reboot: still running\n");
    return 1;
}
