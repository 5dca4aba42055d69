# What a shell can see of the kernel: run by the guest's own shell (BusyBox
# hush, or any POSIX sh), with only cat-level applets: grep, wc, test.
# Usage: sh census.sh DEPTH ROOT... -- NODE...
# Prints one line per entry, then "census end":
#   d PATH / l PATH       a folder / a symbolic link (not followed)
#   r PATH / - PATH       a file that opens for reading / that does not
#   x PATH: ERROR         a file that opens but whose read fails
#   fs NAME               a filesystem type in /proc/filesystems
#   dev PATH / nodev PATH a device node that opens (read or write) / that does not
# Process folders, self links and /proc/kmsg (reading it takes the kernel's
# messages away) are left out: they are not the kernel's interface.
kq_walk() {
	for f in "$1"/*; do
		[ "$3" = top ] && case "${f##*/}" in [0-9]*|self|thread-self|kmsg) continue ;; esac
		if [ -L "$f" ]; then
			echo "l $f"
		elif [ -d "$f" ]; then
			echo "d $f"
			[ "$2" -gt 1 ] && kq_walk "$f" $(($2 - 1)) ""
		elif [ -e "$f" ]; then
			if { : ; } 2>/dev/null <"$f"; then echo "r $f"; else echo "- $f"; fi
		fi
	done
}
rm -f -- "$0" # the guest's shell is left as it was: the workload lists /tmp
depth=$1
shift
: >/tmp/kq-census
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	kq_walk "$1" "$depth" top >>/tmp/kq-census
	shift
done
[ "$1" = -- ] && shift
cat /tmp/kq-census
# One wc per hundred files that opened names each one whose read fails. Small
# batches keep the shell's memory small: a large free can make the allocator
# call madvise, and the census must not need more of the kernel than a shell.
kq_read() {
	[ -n "$1" ] || return 0
	old_ifs=$IFS
	IFS='
'
	# shellcheck disable=SC2086 # one argument per line, spaces kept
	wc -c $1 2>&1 >/dev/null | while IFS= read -r line; do echo "x ${line#wc: }"; done
	IFS=$old_ifs
}
batch=
n=0
while read -r kind f; do
	[ "$kind" = r ] || continue
	batch="$batch$f
"
	n=$((n + 1))
	if [ "$n" -ge 100 ]; then
		kq_read "$batch"
		batch=
		n=0
	fi
done </tmp/kq-census
rm -f /tmp/kq-census
kq_read "$batch"
if [ -r /proc/filesystems ]; then
	while read -r a b; do echo "fs ${b:-$a}"; done </proc/filesystems
fi
for node in "$@"; do
	if [ -c "$node" ] || [ -b "$node" ] && { { : ; } 2>/dev/null <"$node" || { : ; } 2>/dev/null >>"$node"; }; then
		echo "dev $node"
	else
		echo "nodev $node"
	fi
done
echo "census end"
