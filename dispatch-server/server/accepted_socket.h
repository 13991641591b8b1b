// Socket options for a connection the server accepted itself (ConnectionGate) before gRPC
// takes it over.
//
// gRPC sets TCP_NODELAY on the sockets its own listeners accept, not on the ones handed to it
// through an ExternalConnectionAcceptor. Without it, Nagle's algorithm holds a small write back
// while an earlier one is unacknowledged, and the peer acknowledges late (delayed ACK, ~40 ms on
// Linux): measured as a 40 ms stall in 2 of 3 `dispatchctl` calls (an answer waiting for the
// request's ACK), and the same on the telemetry port's acks and the alert streams.
//
//   const int fd = accept4(listen_fd, ...);
//   TuneAcceptedSocket(fd);
//
// Thread contract: any thread; touches only the given descriptor.
#ifndef CIT_DISPATCH_SERVER_SERVER_ACCEPTED_SOCKET_H_
#define CIT_DISPATCH_SERVER_SERVER_ACCEPTED_SOCKET_H_

namespace cit::dispatch {

// Turns Nagle's algorithm off (TCP_NODELAY). Returns false (errno set) when the descriptor is
// not a TCP socket or the option cannot be set; the connection still works, only slower.
bool TuneAcceptedSocket(int fd);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_SERVER_ACCEPTED_SOCKET_H_
