#!/bin/sh
# mkinitramfs.sh KERNEL_VERSION OUT.cpio.gz
# Builds the test bed's initramfs: busybox-static, tests/vm/init as /init, and the modules that
# mounting the host root needs (virtio PCI, 9p over virtio, overlayfs) with their dependencies,
# decompressed so busybox's insmod loads them.
set -eu
kver=${1:?usage: mkinitramfs.sh KERNEL_VERSION OUT.cpio.gz}
out=${2:?usage: mkinitramfs.sh KERNEL_VERSION OUT.cpio.gz}
here=$(cd "$(dirname "$0")" && pwd)
busybox=$(command -v busybox) || { echo "mkinitramfs: busybox is missing (Debian package: busybox-static)" >&2; exit 1; }
# A dynamically linked busybox would need the host's libc inside the initramfs.
if LC_ALL=C ldd "$busybox" >/dev/null 2>&1; then
    echo "mkinitramfs: $busybox is not static (Debian package: busybox-static)" >&2
    exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/dev" "$dir/proc" "$dir/sys" "$dir/mnt/lower" "$dir/mnt/rw" \
    "$dir/newroot" "$dir/lib/modules"
cp "$busybox" "$dir/bin/busybox"
ln -s busybox "$dir/bin/sh"
: >"$dir/modlist"
for module in virtio_pci 9pnet_virtio 9p overlay; do
    modprobe -S "$kver" --show-depends "$module" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r file; do
    name=$(basename "$file")
    name=${name%.xz}
    name=${name%.zst}
    case "$file" in
    *.xz) xz -dc "$file" ;;
    *.zst) zstd -dc "$file" ;;
    *) cat "$file" ;;
    esac >"$dir/lib/modules/$name"
    echo "$name" >>"$dir/modlist"
done
[ -s "$dir/modlist" ] || { echo "mkinitramfs: no modules found for kernel $kver" >&2; exit 1; }
cp "$here/init" "$dir/init"
chmod 0755 "$dir/init"
(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
