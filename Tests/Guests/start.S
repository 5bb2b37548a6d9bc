/* Multiboot v1 entry shared by all guest kernels. */
        .set MB_MAGIC, 0x1BADB002
        .set MB_FLAGS, 0

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .text
        .globl _start
_start:
        cli
        cld
        movl $stack_top, %esp
        movl %eax, %esi                 /* multiboot magic */
        movl %ebx, %edi                 /* multiboot info */
        lgdt gdt_desc
        ljmp $0x08, $1f
1:      movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %fs
        movw %ax, %gs
        movw %ax, %ss
        /* zero .bss (stacks live after __bss_zero_end and are not cleared) */
        movl %edi, %ebx
        movl $__bss_start, %edi
        movl $__bss_zero_end, %ecx
        subl %edi, %ecx
        shrl $2, %ecx
        xorl %eax, %eax
        rep stosl
        pushl %ebx
        pushl %esi
        call kmain
        pushl %eax
        call debug_exit

        .data
        .align 8
        .globl gdt
gdt:
        .quad 0                         /* 0x00 null */
        .quad 0x00cf9a000000ffff        /* 0x08 kernel code, flat 4 GiB */
        .quad 0x00cf92000000ffff        /* 0x10 kernel data */
        .quad 0x00cffa000000ffff        /* 0x18 user code (DPL3) */
        .quad 0x00cff2000000ffff        /* 0x20 user data (DPL3) */
        .quad 0                         /* 0x28 TSS, filled at run time */
gdt_end:
        .globl gdt_desc
gdt_desc:
        .word gdt_end - gdt - 1
        .long gdt

        .section .stackbss, "aw", @nobits
        .align 16
        .space 16384
stack_top:

        .section .note.GNU-stack, "", @progbits
