// Shared helpers of the ctl tests (header-only: only *_test.cc files are built as tests).
//
//   DemoCerts certs(dir);                        // deploy/make-certs.sh into a temp dir
//   auto rec = FixRecord("CIT-0001", 1, T("2026-01-15T10:00:00Z"), 47.37, 8.54);
//
// Thread contract: single-threaded test code.
#ifndef CIT_TESTS_CTL_CTL_FIXTURES_H_
#define CIT_TESTS_CTL_CTL_FIXTURES_H_

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "cit/v1/dispatch.pb.h"
#include "tests/support/test_env.h"

namespace cit::test {

inline google::protobuf::Timestamp T(const std::string& rfc3339) {
  google::protobuf::Timestamp t;
  EXPECT_TRUE(google::protobuf::util::TimeUtil::FromString(rfc3339, &t)) << rfc3339;
  return t;
}

inline google::protobuf::Timestamp Plus(const google::protobuf::Timestamp& t, double seconds) {
  return t + google::protobuf::util::TimeUtil::NanosecondsToDuration(
                 static_cast<int64_t>(seconds * 1e9));
}

inline cit::v1::Record FixRecord(const std::string& vehicle, uint64_t seq,
                                 const google::protobuf::Timestamp& t, double lat, double lon,
                                 double speed_mps = 10) {
  cit::v1::Record r;
  r.set_vehicle_id(vehicle);
  r.set_seq(seq);
  *r.mutable_event_time() = t;
  *r.mutable_agent_time() = t;
  r.mutable_fix()->set_lat_deg(lat);
  r.mutable_fix()->set_lon_deg(lon);
  r.mutable_fix()->set_mode(cit::v1::FIX_MODE_3D);
  r.mutable_fix()->set_speed_mps(speed_mps);
  r.mutable_fix()->set_alt_m(410.5);
  r.mutable_fix()->set_satellites_used(9);
  r.mutable_fix()->set_hdop(0.9);
  return r;
}

inline cit::v1::Record DoorRecord(const std::string& vehicle, uint64_t seq,
                                  const google::protobuf::Timestamp& t, bool open) {
  cit::v1::Record r;
  r.set_vehicle_id(vehicle);
  r.set_seq(seq);
  *r.mutable_event_time() = t;
  *r.mutable_agent_time() = t;
  r.mutable_door()->set_door(1);
  r.mutable_door()->set_state(open ? cit::v1::DOOR_STATE_OPEN : cit::v1::DOOR_STATE_CLOSED);
  return r;
}

inline cit::v1::Position Pos(double lat, double lon) {
  cit::v1::Position p;
  p.set_lat_deg(lat);
  p.set_lon_deg(lon);
  return p;
}

// Runs a shell command; returns its exit code.
inline int Shell(const std::string& command) {
  int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// dispatchctl run with `args` (shell syntax) and no CIT_* connection settings from the
// environment nor a config file from $HOME; stdout in `out`, stderr in `err`.
struct CtlRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};
inline CtlRun RunCtl(const std::filesystem::path& dir, const std::string& args,
                     const std::string& stdin_text = "") {
  const auto in = dir / "in";
  std::ofstream(in) << stdin_text;
  CtlRun run;
  run.exit_code = Shell(
      "env -u CIT_TOKEN -u CIT_TOKEN_FILE -u CIT_SERVER -u CIT_CA_FILE "
      "-u CIT_CTL_CONFIG HOME=/nonexistent '" +
      BuiltProgram("dispatchctl/dispatchctl").string() + "' " + args + " <'" + in.string() +
      "' >'" + (dir / "out").string() + "' 2>'" + (dir / "err").string() + "'");
  run.out = ReadFile(dir / "out");
  run.err = ReadFile(dir / "err");
  return run;
}

// The demo PKI from deploy/make-certs.sh: ca.crt, server.crt/.key, <vehicle>.crt/.key.
struct DemoCerts {
  explicit DemoCerts(const std::filesystem::path& out_dir, const std::string& vehicles = "CIT-0001")
      : dir(out_dir) {
    const std::string cmd = "bash " + SourcePath("deploy/make-certs.sh").string() + " " +
                            dir.string() + " " + vehicles + " >/dev/null 2>&1";
    EXPECT_EQ(Shell(cmd), 0) << cmd;
  }
  std::filesystem::path dir;
};

}  // namespace cit::test

#endif  // CIT_TESTS_CTL_CTL_FIXTURES_H_
