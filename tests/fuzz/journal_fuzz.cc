// Fuzz target: the vehicle-agent journal's recovery decoder (vehicle-agent/journal.h). The
// decoder reads segment files only (no in-memory entry point), so the input becomes a journal
// directory on tmpfs (/dev/shm when present) that Journal::Open() recovers; then the records
// are read back, one is appended, synced and acknowledged. Errors are fine outcomes.
//
// Input: byte 0 = flags, the rest = the segment file `00000000000000000001.seg`.
//   flags & 1: fix up every frame's CRC before writing (mutants get past the CRC check and reach
//              the protobuf decode and the seq-order checks);
//   flags & 2: the bytes up to the first NUL are the `state` file, the segment follows the NUL.
// tests/fuzz/make_journal_seeds.py writes the seeds in this layout.
//
// Run: ctest --preset fuzz -R fuzz.journal, or build/fuzz/tests/fuzz/fuzz_journal
// (docs/fuzzing.md).
#include <unistd.h>

#include <boost/crc.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "spdlog/spdlog.h"
#include "vehicle-agent/journal.h"

namespace {

uint32_t GetU32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}

void FixCrcs(std::string& seg) {
  size_t at = 0;
  while (at + 8 <= seg.size()) {
    const size_t len = GetU32(seg, at);
    if (len == 0 || len > seg.size() - at - 8) break;
    boost::crc_32_type crc;
    crc.process_bytes(seg.data() + at + 8, len);
    const uint32_t c = crc.checksum();
    for (int i = 0; i < 4; ++i) seg[at + 4 + i] = static_cast<char>((c >> (8 * i)) & 0xff);
    at += 8 + len;
  }
}

const std::filesystem::path& Dir() {
  static const std::filesystem::path dir = [] {
    spdlog::set_level(spdlog::level::off);     // recovery logs every torn frame
    google::protobuf::SetLogHandler(nullptr);  // and protobuf each bad UTF-8 string
    std::error_code ec;
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                     ? "/dev/shm"
                                     : std::filesystem::temp_directory_path();
    return base / ("citwatch-fuzz-journal-" + std::to_string(::getpid()));
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string state;
  bool has_state = false;
  if (flags & 2) {
    const size_t nul = rest.find('\0');
    if (nul != std::string::npos) {
      state = rest.substr(0, nul);
      rest.erase(0, nul + 1);
      has_state = true;
    }
  }
  if (flags & 1) FixCrcs(rest);

  const std::filesystem::path& dir = Dir();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "00000000000000000001.seg", std::ios::binary) << rest;
  if (has_state) std::ofstream(dir / "state", std::ios::binary) << state;

  cit::agent::JournalOptions opts;
  opts.dir = dir;
  opts.max_bytes = 64 << 10;  // small, so thinning runs too
  opts.segment_bytes = 16 << 10;
  auto journal = cit::agent::Journal::Open(opts);
  if (journal.ok()) {
    cit::agent::Journal& j = **journal;
    uint64_t from = j.first_unacked_seq();
    for (int i = 0; i < 8 && from != 0; ++i) {
      auto batch = j.Read(from, 64);
      if (!batch.ok() || batch->empty()) break;
      from = batch->back().seq() + 1;
    }
    cit::v1::Record rec;
    rec.mutable_heartbeat()->set_journal_backlog_records(j.backlog_records());
    if (j.Append(rec).ok() && j.Sync().ok()) {
      (void)j.Read(j.first_unacked_seq(), 64);
      (void)j.Acknowledge(j.durable_seq());
    }
  }
  journal = absl::UnknownError("closed");  // closes the journal before the directory goes
  std::filesystem::remove_all(dir);
  return 0;
}
