// Bounded reads of the server's text inputs: config, token and PEM files.
//
//   absl::StatusOr<std::string> pem = cit::dispatch::ReadTextFile("/etc/citwatch/server.crt");
//   if (!pem.ok()) return pem.status();   // NOT_FOUND / PERMISSION_DENIED name the path
//
// Thread contract: pure function (reads the file system).
#ifndef CIT_DISPATCH_SERVER_COMMON_TEXT_FILE_H_
#define CIT_DISPATCH_SERVER_COMMON_TEXT_FILE_H_

#include <cstddef>
#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace cit::dispatch {

// Largest config, token or PEM file read.
inline constexpr std::size_t kMaxTextFileBytes = 16u << 20;

// Reads a whole file (config, certificates, keys); NOT_FOUND / PERMISSION_DENIED with the path,
// INVALID_ARGUMENT for a non-regular file (a device, a FIFO) or one over kMaxTextFileBytes.
absl::StatusOr<std::string> ReadTextFile(const std::filesystem::path& path);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_COMMON_TEXT_FILE_H_
