namespace LightVM.Tinyx.Cli;

internal static class Usage
{
    public const string Text = """
        lightvm-tinyx: builds the LightVM guest kernel and initramfs images.

        lightvm-tinyx kernel [options]
          Builds vmlinux from the kernel source tarball with tinyconfig plus the LightVM fragment, cached by a hash
          of (source, fragment, build steps). Prints the vmlinux path and size on stdout; progress goes to stderr.
            --cache DIR       cache root (default /var/cache/lightvm); kernels go to DIR/kernel/<key>/
            --source FILE     kernel source tarball (default /usr/src/linux-source-6.1.tar.xz)
            --config FILE     config fragment (default: kernel/lightvm-guest.config next to the tool)
            --jobs N          parallel make jobs (default: number of CPUs)
            --verbose         stream every make output line

        lightvm-tinyx initramfs [options]
          Builds a deterministic gzip'd newc initramfs into DIR/initramfs/<sha256>.cpio.gz and lists its content.
            --init FILE           placed at /init (an ELF brings its shared-library closure)
            --elf SRC:DEST        an ELF program at DEST plus exactly the libraries the loader will open
            --file SRC:DEST       a plain file, mode kept
            --dir DEST[:MODE]     an empty directory (octal mode, default 755)
            --busybox             busybox at /bin/busybox with a few applet links (debug shell)
            --busybox-path FILE   busybox binary to use (default /bin/busybox)
            --rootfs DIR          bake a whole root filesystem in, ownership kept
            --sysroot DIR         resolve libraries inside DIR instead of the host's /
            --cache DIR           cache root (default /var/cache/lightvm)
            --output FILE         also copy the image to FILE
        """;
}
