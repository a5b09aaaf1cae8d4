; Sequence guest: a 512-byte x86 boot sector that prints on COM1, forever,
;   seq=NNNNNNNN boot=TTTTTTTT\r\n
; NNNNNNNN: decimal counter in guest RAM (continues across live migration, restarts at 0 on a new boot);
; TTTTTTTT: per-boot token (hex) mixed from the TSC and the RTC at boot.
; It answers the ACPI power button (virsh shutdown, virsh reboot) by powering off, so a guest shutdown is real.
; Build: nasm -f bin -D DELAY_US=5000 -o seq.bin seqguest.asm   (DELAY_US = pause between lines, 0 = none)
;    or: nasm -f bin -D IDLE_TICKS=1 -o seq.bin seqguest.asm    (idle with hlt for N BIOS timer ticks of
;        55 ms between lines: int 15h/86h spins, ~10% of a core per TCG guest; hlt ~1%, for scale runs)
;    or: nasm -f bin -D HOSTILE ... (each line also sets the terminal title (OSC 0), clears the
;        screen (CSI 2J) and colours itself red (SGR): for the terminal-safety tests of `show`)
bits 16
org 0x7c00
%ifndef DELAY_US
%define DELAY_US 5000
%endif

start:
  cli
  xor ax, ax
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov sp, 0x7c00
  sti
  cld
  ; COM1: 115200 baud, 8N1, FIFO on
  mov dx, 0x3fb
  mov al, 0x80
  out dx, al
  mov dx, 0x3f8
  mov al, 1
  out dx, al
  inc dx
  xor al, al
  out dx, al
  mov dx, 0x3fb
  mov al, 3
  out dx, al
  mov dx, 0x3fa
  mov al, 7
  out dx, al
  ; per-boot token: TSC low bits mixed with RTC seconds/minutes/hours
  rdtsc
  mov ebx, eax
  xor ecx, ecx
  mov al, 4
  out 0x70, al
  in al, 0x71
  mov cl, al
  shl ecx, 8
  mov al, 2
  out 0x70, al
  in al, 0x71
  mov cl, al
  shl ecx, 8
  xor al, al
  out 0x70, al
  in al, 0x71
  mov cl, al
  xor ebx, ecx
  imul ebx, ebx, 0x9E3779B1
  mov eax, ebx
  shr eax, 15
  xor ebx, eax
  ; write ebx as 8 hex digits into the token field
  mov di, token
  mov cx, 8
.hex:
  rol ebx, 4
  mov al, bl
  and al, 0x0f
  add al, '0'
  cmp al, '9'
  jbe .digit
  add al, 'a' - '0' - 10
.digit:
  stosb
  loop .hex

mainloop:
  mov si, line
.char:
  lodsb
  test al, al
  jz .sent
  mov ah, al
  mov dx, 0x3fd
.wait:
  in al, dx
  test al, 0x20
  jz .wait
  mov al, ah
  mov dx, 0x3f8
  out dx, al
  jmp .char
.sent:
  ; increment the decimal counter in place
  mov si, counter_end - 1
.inc:
  inc byte [si]
  cmp byte [si], '9'
  jbe .incdone
  mov byte [si], '0'
  dec si
  cmp si, counter
  jae .inc
.incdone:
%ifdef IDLE_TICKS
  mov cx, IDLE_TICKS
.idle:
  sti
  hlt
  loop .idle
%elif DELAY_US > 0
  mov cx, (DELAY_US >> 16)
  mov dx, (DELAY_US & 0xffff)
  mov ah, 0x86
  int 0x15
%endif
  ; ACPI power button (virsh shutdown / virsh reboot): PM1a status at 0x600 (SeaBIOS's PIIX4 PM base);
  ; answer with a soft power-off (SLP_EN, SLP_TYP=0 on PM1a control 0x604). PWRBTN_EN (PM1a enable,
  ; 0x602) is set on every round: it lets the button set its status bit, also after a live migration.
  mov dx, 0x602
  mov ax, 0x100
  out dx, ax
  mov dx, 0x600
  in ax, dx
  test ax, 0x100
  jz mainloop
  mov dx, 0x604
  mov ax, 0x2000
  out dx, ax
.halt:
  hlt
  jmp .halt

line:
%ifdef HOSTILE
         db 27, ']0;pwned-title', 7, 27, '[2J', 27, '[31m'
%endif
         db 'seq='
counter: db '00000000'
counter_end:
         db ' boot='
token:   db '00000000', 13, 10, 0

times 510 - ($ - $$) db 0
dw 0xaa55
