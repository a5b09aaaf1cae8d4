# Reads length-prefixed (4 bytes, big-endian) native-protocol entries on stdin; one datagram each.
use strict; use Socket;
socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
my $addr = pack_sockaddr_un($ARGV[0] // '/run/systemd/journal/socket');
binmode STDIN;
while (read(STDIN, my $h, 4) == 4) {
  my $n = unpack('N', $h);
  read(STDIN, my $e, $n) == $n or last;
  send($s, $e, 0, $addr) or warn "send: $!\n";
}
