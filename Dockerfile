# streamscope's runtime image (the ECS task definitions run it): Debian 12 slim, ffmpeg and
# ffprobe from Debian, the OpenCV libraries the binary links (core, and contrib for the
# wechat_qrcode reader), a font for the generator's captions, CA certificates for S3/HTTPS
# inputs, Shaka Packager for encrypted outputs, the release binary; a non-root user.
# Built by scripts/container.sh (buildah bud --isolation chroot), which also makes the base
# image with debootstrap when no registry is reachable (--build-arg BASE=…).
#   context: a folder holding `streamscope` (release binary) and `packager`.
ARG BASE=docker.io/library/debian:12-slim
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ffmpeg libopencv-core406 libopencv-contrib406 fonts-dejavu-core ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY streamscope packager /usr/local/bin/
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/streamscope \
      streamscope
USER 10001:10001
WORKDIR /var/lib/streamscope
ENV STREAMSCOPE_PACKAGER=/usr/local/bin/packager
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/streamscope"]
CMD ["--help"]
