// A connection the server accepts itself leaves with Nagle's algorithm off (gRPC does not set
// it on connections handed to it; dispatch-server/server/accepted_socket.h says what it cost).
#include "dispatch-server/server/accepted_socket.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cit::dispatch {
namespace {

int NoDelay(int fd) {
  int v = -1;
  socklen_t len = sizeof v;
  EXPECT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  return v;
}

TEST(AcceptedSocketTest, AcceptedLoopbackConnectionGetsTcpNoDelay) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const int accepted = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);

  EXPECT_EQ(NoDelay(accepted), 0) << "the kernel's default is Nagle on";
  EXPECT_TRUE(TuneAcceptedSocket(accepted));
  EXPECT_NE(NoDelay(accepted), 0);

  ::close(accepted);
  ::close(client);
  ::close(listener);
}

TEST(AcceptedSocketTest, NotASocketIsReportedNotFatal) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  EXPECT_FALSE(TuneAcceptedSocket(fds[0]));
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace
}  // namespace cit::dispatch
