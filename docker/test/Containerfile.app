# Debian's busybox-static (sh, httpd, wget …; build-images.sh), in place of busybox in the
# container test.
FROM scratch
COPY rootfs/ /
ENV PATH=/bin
ENTRYPOINT ["/bin/sh"]
