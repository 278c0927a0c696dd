FROM busybox:latest
RUN echo one > /one
RUN echo failing >&2 && exit 3
RUN echo never
