// dispatchctl: the operator, dispatcher and auditor command line (CLI11).
//
//   int main(int argc, char** argv) { return cit::ctl::RunCli(argc, argv); }
//
// Commands: watch, ack, resolve, fleet, plan {create,update,show,list,dispatch,abort,complete},
// audit {report,export,verify}, token {new,hash}. Connection settings come from flags, then the
// environment (CIT_SERVER, CIT_CA_FILE, CIT_SERVER_NAME, CIT_TOKEN, CIT_TOKEN_FILE), then a
// TOML config file (--config, default $CIT_CTL_CONFIG or ~/.config/citwatch/dispatchctl.toml,
// keys named like the long flags: server, ca-file, token-file, ...).
//
// Exit codes (stable, for scripts): see ExitCode.
//
// Thread contract: RunCli is called once, from main.
#ifndef CIT_DISPATCHCTL_CLI_H_
#define CIT_DISPATCHCTL_CLI_H_

#include <grpcpp/support/status.h>

namespace cit::ctl {

enum ExitCode : int {
  kExitOk = 0,
  // The command worked and its answer is "no": `audit verify` found a broken chain.
  kExitNegative = 1,
  kExitUsage = 2,
  // Server unreachable or too slow.
  kExitUnavailable = 3,
  // Token missing/unknown (UNAUTHENTICATED) or role not allowed (PERMISSION_DENIED).
  kExitAuth = 4,
  kExitNotFound = 5,
  // The server refused the request as invalid or conflicting with the current state.
  kExitRejected = 6,
  kExitError = 7,
};

ExitCode ExitCodeFor(const grpc::Status& status);

int RunCli(int argc, char** argv);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_CLI_H_
