/* hello: prints what the loader handed over (multiboot info, fw_cfg) and exits with exit=N. */
#include "rt.h"

static void pmib(u64 bytes) { pdec((u32)(bytes >> 20)); }

int kmain(u32 magic, const struct mb_info *mbi)
{
    if (magic != MB_MAGIC) { pstr("hello: bad multiboot magic\n"); return 1; }
    pstr("hello: multiboot ok\n");

    pstr("cmdline: ");
    if ((mbi->flags & 4) && mbi->cmdline) pstr((const char *)mbi->cmdline);
    pchar('\n');

    if (mbi->flags & 1) {
        pstr("mem: lower="); pdec(mbi->mem_lower);
        pstr(" upper="); pdec(mbi->mem_upper); pchar('\n');
    } else {
        pstr("mem: none\n");
    }

    if (mbi->flags & 0x40) {
        u32 n = 0; u64 ram = 0, high = 0;
        for (u32 a = mbi->mmap_addr; a < mbi->mmap_addr + mbi->mmap_length;) {
            const struct mb_mmap *e = (const struct mb_mmap *)a;
            n++;
            if (e->type == 1) {
                u64 s = e->addr, t = e->addr + e->len;
                ram += e->len;
                if (t > 0x100000000ull) high += t - (s > 0x100000000ull ? s : 0x100000000ull);
            }
            a += e->size + 4;
        }
        pstr("mmap: "); pdec(n); pstr(" entries, ram="); pmib(ram);
        pstr(" MiB, above4g="); pmib(high); pstr(" MiB\n");
    } else {
        pstr("mmap: none\n");
    }

    pstr("fwcfg: ram="); pmib(fwcfg_read(0x03, 8));
    pstr(" cpus="); pdec((u32)fwcfg_read(0x05, 2)); pchar('\n');

    u32 nmods = (mbi->flags & 8) ? mbi->mods_count : 0;
    pstr("modules: "); pdec(nmods); pchar('\n');
    const struct mb_module *m = (const struct mb_module *)mbi->mods_addr;
    for (u32 i = 0; i < nmods; i++, m++) {
        u32 size = m->mod_end - m->mod_start;
        pstr("module: "); pdec(size); pstr(" bytes, first=");
        const u8 *p = (const u8 *)m->mod_start;
        for (u32 j = 0; j < size && j < 16; j++)
            pchar(p[j] >= 0x20 && p[j] < 0x7f ? (char)p[j] : '.');
        pchar('\n');
    }
    return (int)cmdline_uint(mbi, "exit", 0);
}
