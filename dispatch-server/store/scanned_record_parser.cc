#include "dispatch-server/store/scanned_record_parser.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cit::dispatch {
namespace {

// Records parsed into one arena, reset every few hundred: no allocation per record beyond the
// arena's bump pointer, and memory bounded whatever the number of records.
constexpr size_t kRecordsPerArenaReset = 256;

google::protobuf::ArenaOptions Blocks() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 64 << 10;
  options.max_block_size = 64 << 10;
  return options;
}

}  // namespace

ScannedRecordParser::ScannedRecordParser() : arena_(Blocks()) {}

absl::StatusOr<const cit::v1::Record*> ScannedRecordParser::Parse(std::string_view body,
                                                                  const std::string& vehicle_id,
                                                                  uint64_t seq) {
  if (parsed_ % kRecordsPerArenaReset == 0) arena_.Reset();
  ++parsed_;
  auto* record = google::protobuf::Arena::CreateMessage<cit::v1::Record>(&arena_);
  if (!record->ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return absl::DataLossError(
        absl::StrCat("stored body of ", vehicle_id, " seq ", seq, " does not parse"));
  }
  return record;
}

}  // namespace cit::dispatch
