/*
 * The reference: a bare AF_UNIX datagram loop in C, the floor any mailslot
 * emulation on Linux stands on. Same protocol as the Lua bench peers:
 *   raw recv NAME COUNT        prints "ready", then the seconds from the first
 *                              to the last of COUNT messages and the CPU seconds
 *                              the process used meanwhile
 *   raw send NAME COUNT SIZE   sends COUNT messages of SIZE bytes
 *   raw lrecv NAME COUNT       latency: prints "median p99" in seconds
 *   raw lsend NAME COUNT SIZE  one message at a time, each starting with the
 *                              CLOCK_MONOTONIC time it was sent (a double)
 *   raw wrecv NAME COUNT       as recv, with the system calls the module's reader makes:
 *                              SO_PASSCRED, SO_RCVTIMEO, recvmsg with room for
 *                              credentials into a mapped buffer of 2 x wmem_max
 *                              half a page in, and a copy of each message out of it
 *                              (where the module makes its Lua string)
 *   raw wsend NAME COUNT SIZE  as send, as the module's writer sends: sendmsg of a
 *                              1-byte header and the message
 *   raw udpsink PORT           binds 127.0.0.1:PORT, prints "ready", then the size
 *                              of the first datagram; ends 1 s after the last one
 *   raw udpsend PORT COUNT SIZE  sendto() COUNT datagrams of SIZE bytes to
 *                              127.0.0.1:PORT, prints the seconds it took
 * NAME is bound in the abstract namespace, as the module does on Linux.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static socklen_t address(const char *name, struct sockaddr_un *sa) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1, "bench-raw\\%s", name);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa->sun_path + 1));
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The CPU time of the process (user and system), as Lua's os.clock() gives it. */
static double cpu(void) { return (double)clock() / CLOCKS_PER_SEC; }

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The UDP side: a sink for the network send benchmark and the raw sendto loop. */
static int udp(int argc, char **argv) {
  struct sockaddr_in in;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  long i;
  memset(&in, 0, sizeof in);
  in.sin_family = AF_INET;
  in.sin_port = htons((unsigned short)atoi(argv[2]));
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0) return perror("socket"), 1;
  if (strcmp(argv[1], "udpsink") == 0) {
    static char buf[65536];
    struct timeval quiet = {1, 0};
    ssize_t n;
    if (bind(fd, (struct sockaddr *)&in, sizeof in) != 0) return perror("bind"), 1;
    printf("ready\n");
    fflush(stdout);
    if ((n = recv(fd, buf, sizeof buf, 0)) < 0) return perror("recv"), 1;
    printf("%ld\n", (long)n);
    fflush(stdout);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &quiet, sizeof quiet);
    while (recv(fd, buf, sizeof buf, 0) >= 0) {}
    return 0;
  }
  if (strcmp(argv[1], "udpsend") == 0 && argc == 5) {
    long count = atol(argv[3]);
    size_t size = (size_t)atol(argv[4]);
    char *msg = calloc(1, size + 1);
    double start = now();
    if (!msg) return 1;
    for (i = 0; i < count; i++)
      if (sendto(fd, msg, size, 0, (struct sockaddr *)&in, sizeof in) < 0) return perror("sendto"), 1;
    printf("%.6f\n", now() - start);
    free(msg);
    return 0;
  }
  return 2;
}

static size_t wmem_max(void) {
  FILE *f = fopen("/proc/sys/net/core/wmem_max", "r");
  unsigned long v = 212992;
  if (f) {
    if (fscanf(f, "%lu", &v) != 1) v = 212992;
    fclose(f);
  }
  return v;
}

/* The module's reader's work per message, in C: what a binding cannot go below. */
static int recv_like_module(int fd, long count) {
  size_t size = 2 * wmem_max() + 23; /* the module's buffer: the largest datagram and its header */
  char *map = mmap(NULL, size + 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  char *buf = map + 2048, control[CMSG_SPACE(sizeof(struct ucred))];
  int one = 1, big = 1 << 30;
  struct timeval wait = {10, 0};
  double start = 0, cpu_start = 0;
  long i;
  if (map == MAP_FAILED) return perror("mmap"), 1;
  setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  printf("ready\n");
  fflush(stdout);
  for (i = 0; i < count; i++) {
    struct iovec iov = {buf, size};
    struct msghdr m;
    ssize_t n;
    char *copy;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    if ((n = recvmsg(fd, &m, MSG_TRUNC | MSG_CMSG_CLOEXEC)) < 1 || buf[0] != 0)
      return perror("recvmsg"), 1;
    if (!(copy = malloc((size_t)n))) return 1;
    memcpy(copy, buf + 1, (size_t)n - 1);
    free(copy);
    if (i == 0) start = now(), cpu_start = cpu();
  }
  printf("%.6f %.6f\n", now() - start, cpu() - cpu_start);
  return 0;
}

static int send_like_module(int fd, long count, size_t size) {
  char head = 0, *msg = calloc(1, size + 1);
  struct iovec iov[2] = {{&head, 1}, {msg, size}};
  struct msghdr m;
  long i;
  memset(&m, 0, sizeof m);
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  if (!msg) return 1;
  for (i = 0; i < count; i++)
    if (sendmsg(fd, &m, 0) < 0) return perror("sendmsg"), 1;
  free(msg);
  return 0;
}

int main(int argc, char **argv) {
  struct sockaddr_un sa;
  socklen_t len;
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  long i, count;
  if (argc >= 3 && strncmp(argv[1], "udp", 3) == 0) return close(fd), udp(argc, argv);
  if (argc < 4 || fd < 0) return 2;
  len = address(argv[2], &sa);
  count = atol(argv[3]);
  if (strcmp(argv[1], "wrecv") == 0) {
    if (bind(fd, (struct sockaddr *)&sa, len) != 0) return perror("bind"), 1;
    return recv_like_module(fd, count);
  }
  if (strcmp(argv[1], "wsend") == 0 && argc == 5) {
    if (connect(fd, (struct sockaddr *)&sa, len) != 0) return perror("connect"), 1;
    return send_like_module(fd, count, (size_t)atol(argv[4]));
  }
  if (strcmp(argv[1], "recv") == 0) {
    static char buf[1 << 20];
    double start = 0, cpu_start = 0;
    int big = 1 << 30;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (bind(fd, (struct sockaddr *)&sa, len) != 0) return perror("bind"), 1;
    printf("ready\n");
    fflush(stdout);
    for (i = 0; i < count; i++) {
      if (recv(fd, buf, sizeof buf, 0) < 0) return perror("recv"), 1;
      if (i == 0) start = now(), cpu_start = cpu();
    }
    printf("%.6f %.6f\n", now() - start, cpu() - cpu_start);
    return 0;
  }
  if (strcmp(argv[1], "lrecv") == 0) {
    static char buf[1 << 20];
    double *lat = calloc((size_t)count, sizeof *lat), sent;
    if (!lat || bind(fd, (struct sockaddr *)&sa, len) != 0) return perror("bind"), 1;
    printf("ready\n");
    fflush(stdout);
    for (i = 0; i < count; i++) {
      if (recv(fd, buf, sizeof buf, 0) < (ssize_t)sizeof sent) return perror("recv"), 1;
      memcpy(&sent, buf, sizeof sent);
      lat[i] = now() - sent;
    }
    qsort(lat, (size_t)count, sizeof *lat, by_value);
    printf("%.9f %.9f\n", lat[(count + 1) / 2 - 1], lat[(count * 99 + 99) / 100 - 1]);
    free(lat);
    return 0;
  }
  if (strcmp(argv[1], "lsend") == 0 && argc == 5) {
    size_t size = (size_t)atol(argv[4]);
    char *msg = calloc(1, size < sizeof(double) ? sizeof(double) : size);
    /* The slot is idle again before the next one; 1 ms, as the Lua writer's wait (whole ms). */
    struct timespec gap = {0, 1000000};
    if (!msg || connect(fd, (struct sockaddr *)&sa, len) != 0) return perror("connect"), 1;
    if (size < sizeof(double)) size = sizeof(double);
    for (i = 0; i < count; i++) {
      double t = now();
      memcpy(msg, &t, sizeof t);
      if (send(fd, msg, size, 0) < 0) return perror("send"), 1;
      nanosleep(&gap, NULL);
    }
    free(msg);
    return 0;
  }
  if (strcmp(argv[1], "send") == 0 && argc == 5) {
    size_t size = (size_t)atol(argv[4]);
    char *msg = calloc(1, size + 1);
    int big = 1 << 30;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (!msg || connect(fd, (struct sockaddr *)&sa, len) != 0) return perror("connect"), 1;
    for (i = 0; i < count; i++)
      if (send(fd, msg, size, 0) < 0) return perror("send"), 1;
    free(msg);
    return 0;
  }
  return 2;
}
