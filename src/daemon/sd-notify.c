// sd_notify(3) from inside the Node process: one AF_UNIX datagram to $NOTIFY_SOCKET.
//
// Node has no unix datagram sockets, and systemd attributes a notification to the PID that sent it (the kernel's
// SCM_CREDENTIALS). Sending it from the daemon's own process is what lets the unit say NotifyAccess=main: with
// systemd-notify(1), a child, the unit needs NotifyAccess=all, and then the SPIRE children could change the
// service's state too. Built by scripts/package/addon.ts and embedded in the single executable.
//
// send(path, message)    -> 0, or the errno of socket()/sendto()
// Tests stand in for systemd with the other three, and check the sender's PID as systemd does:
// bind(path)             -> a non-blocking datagram socket bound at path with SO_PASSCRED, or -errno
// receive(fd)            -> { pid, message } of the next queued datagram, or null when none is queued
// close(fd)
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_DATAGRAM 4096

static napi_value int_value(napi_env env, int value) {
  napi_value out;
  napi_create_int32(env, value, &out);
  return out;
}

// Fills addr from a path; "@name" is an abstract socket (systemd allows both for NOTIFY_SOCKET).
static int socket_address(napi_env env, napi_value arg, struct sockaddr_un *addr, socklen_t *len) {
  size_t n = 0;
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (napi_get_value_string_utf8(env, arg, addr->sun_path, sizeof addr->sun_path, &n) != napi_ok) return EINVAL;
  if (n == 0 || n >= sizeof addr->sun_path - 1) return ENAMETOOLONG;
  if (addr->sun_path[0] == '@') addr->sun_path[0] = '\0';
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  return 0;
}

static napi_value send_message(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  struct sockaddr_un addr;
  socklen_t len = 0;
  size_t size = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) return int_value(env, EINVAL);
  int err = socket_address(env, argv[0], &addr, &len);
  if (err != 0) return int_value(env, err);
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &size) != napi_ok) return int_value(env, EINVAL);
  char *message = malloc(size + 1);
  if (message == NULL) return int_value(env, ENOMEM);
  napi_get_value_string_utf8(env, argv[1], message, size + 1, &size);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
  } else {
    // MSG_DONTWAIT: a full queue at systemd's end must never block the event loop; the caller logs the error.
    if (sendto(fd, message, size, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&addr, len) < 0) err = errno;
    close(fd);
  }
  free(message);
  return int_value(env, err);
}

static napi_value bind_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct sockaddr_un addr;
  socklen_t len = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return int_value(env, -EINVAL);
  int err = socket_address(env, argv[0], &addr, &len);
  if (err != 0) return int_value(env, -err);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int on = 1;
  if (fd < 0) return int_value(env, -errno);
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0 || bind(fd, (struct sockaddr *)&addr, len) < 0) {
    err = errno;
    close(fd);
    return int_value(env, -err);
  }
  return int_value(env, fd);
}

static napi_value receive_message(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, value;
  int32_t fd = -1;
  char buffer[MAX_DATAGRAM];
  union {
    struct cmsghdr align;
    char bytes[CMSG_SPACE(sizeof(struct ucred))];
  } control;
  struct iovec iov = {.iov_base = buffer, .iov_len = sizeof buffer};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_null(env, &out);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) return out;
  ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0) return out;
  int32_t pid = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      struct ucred cred;
      memcpy(&cred, CMSG_DATA(c), sizeof cred);
      pid = cred.pid;
    }
  }
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "pid", int_value(env, pid));
  napi_create_string_utf8(env, buffer, (size_t)n, &value);
  napi_set_named_property(env, out, "message", value);
  return out;
}

static napi_value close_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &fd) == napi_ok && fd >= 0) close(fd);
  return NULL;
}

static void export_function(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value value;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &value);
  napi_set_named_property(env, exports, name, value);
}

NAPI_MODULE_INIT() {
  export_function(env, exports, "send", send_message);
  export_function(env, exports, "bind", bind_socket);
  export_function(env, exports, "receive", receive_message);
  export_function(env, exports, "close", close_socket);
  return exports;
}
