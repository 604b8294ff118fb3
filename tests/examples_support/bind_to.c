/* LD_PRELOAD shim for the examples_* tests: a bind() to 0.0.0.0 (any IPv4 address) binds to
 * $BIND_TO_IPV4 instead. dcmtk's servers (storescp, wlmscpfs, dcmqrscp) can only listen on
 * every address; with it each node of a port-0 pool (one 127.0.0.x per node, all on the port
 * the virtual service also listens on) gets its own real dcmtk server. Other binds, and every
 * bind without the variable, are passed through unchanged. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real)
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    const char *ip = getenv("BIND_TO_IPV4");
    if (ip && addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in = *(const struct sockaddr_in *)addr;
        if (in.sin_addr.s_addr == htonl(INADDR_ANY) && inet_pton(AF_INET, ip, &in.sin_addr) == 1)
            return real(fd, (const struct sockaddr *)&in, sizeof in);
    }
    return real(fd, addr, len);
}
