FROM busybox:latest AS build
RUN echo built > /out
FROM busybox:latest
WORKDIR /app
COPY --from=build /out /app/out
COPY f.txt .
ENV X=1
CMD ["cat", "/app/out"]
