/* exit-now: a Multiboot kernel whose first instruction ends the VM (out 0 -> port 0xf4).
 * exec -> exit wall time of it bounds a VMM's time to the guest's first instruction. */
        .section .multiboot, "a"
        .align 4
        .long 0x1BADB002
        .long 0
        .long -0x1BADB002

        .text
        .globl _start
_start:
        xorl %eax, %eax
        outb %al, $0xf4
1:      hlt
        jmp 1b

        .section .note.GNU-stack, "", @progbits
