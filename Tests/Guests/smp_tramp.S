/* AP start-up trampoline: copied to 0x8000 (SIPI vector 0x08), enters
 * 32-bit protected mode with the kernel GDT, then jumps to ap_start32. */
        .set MAXCPU, 16
        .text
        .code16
        .globl tramp_start, tramp_end
tramp_start:
        cli
        movw %cs, %ax
        movw %ax, %ds
        lgdtl tramp_gdtr - tramp_start
        movl %cr0, %eax
        orl $1, %eax
        movl %eax, %cr0
        ljmpl $0x08, $ap_start32
        .align 4
tramp_gdtr:
        .word 6 * 8 - 1
        .long gdt
tramp_end:

        .code32
ap_start32:
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %fs
        movw %ax, %gs
        movw %ax, %ss
        movl 0xfee00020, %eax           /* LAPIC ID */
        shrl $24, %eax
        cmpl $MAXCPU, %eax
        jae 2f
        leal 1(%eax), %esp
        shll $12, %esp
        addl $ap_stacks, %esp
        pushl %eax
        call ap_main
2:      cli
        hlt
        jmp 2b

        .section .stackbss, "aw", @nobits
        .align 16
ap_stacks:
        .space MAXCPU * 4096

        .section .note.GNU-stack, "", @progbits
