#!/bin/bash
# The example app for `cf push`: the shell buildpack runs run.sh, which serves this directory's index.html on
# $PORT: with busybox's httpd on the busybox rootfs, with perl (Debian's perl-base) on the Debian stack.
if command -v busybox >/dev/null; then
	exec busybox httpd -f -p "$PORT" -h .
fi
exec perl -MIO::Socket::INET -e '
	$SIG{PIPE} = "IGNORE";
	my $body = do { local $/; open my $f, "<", "index.html" or die "index.html: $!"; <$f> };
	my $s = IO::Socket::INET->new(LocalPort => $ENV{PORT}, Listen => 64, ReuseAddr => 1) or die "listening on $ENV{PORT}: $!";
	while (my $c = $s->accept) {
		while (my $line = <$c>) { last if $line =~ /^\r?$/ }
		print $c "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n" . $body;
		close $c;
	}'
