// dispatchctl: operator and auditor CLI for dispatch-server. `dispatchctl --help` lists commands.
#include "dispatchctl/cli.h"

int main(int argc, char** argv) { return cit::ctl::RunCli(argc, argv); }
