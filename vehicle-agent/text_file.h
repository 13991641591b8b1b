// Reads a small text file (the agent's config, its TLS certificates and key) whole, with an
// error that names the path and says what is wrong: missing, not a regular file (a directory, a
// device such as /dev/zero), too large, or unreadable. std::ifstream alone reads a directory as
// an empty file, which would turn `--config /etc/citwatch` into "all defaults" without a word.
//
//   absl::StatusOr<std::string> text = cit::agent::ReadTextFile("/etc/citwatch/agent.toml");
//
// Thread contract: thread-safe (no shared state).
#ifndef CIT_VEHICLE_AGENT_TEXT_FILE_H_
#define CIT_VEHICLE_AGENT_TEXT_FILE_H_

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace cit::agent {

// `what` names the file's role in messages ("config", "uplink.ca_file"). Files larger than
// `max_bytes` are refused before anything is read.
absl::StatusOr<std::string> ReadTextFile(const std::filesystem::path& path, const std::string& what,
                                         uint64_t max_bytes = 4u << 20);

}  // namespace cit::agent

#endif  // CIT_VEHICLE_AGENT_TEXT_FILE_H_
