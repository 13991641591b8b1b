// `dispatchctl track`: a stored track as a table a person reads, one line per record: when,
// seq, what happened (a fix, a door, a seal, a panic, crew, GNSS state, heartbeat), where, how
// fast, and the receiver's quality. The summary line counts what was shown.
//
//   TrackTable table(TimeZoneChoice::kLocal);
//   std::cout << table.Header();
//   for (const auto& r : page.records()) std::cout << table.Line(r);
//   std::cout << table.Summary();
//
// Thread contract: one TrackTable per thread.
#ifndef CIT_DISPATCHCTL_TRACK_TABLE_H_
#define CIT_DISPATCHCTL_TRACK_TABLE_H_

#include <cstdint>
#include <map>
#include <string>

#include "cit/v1/dispatch.pb.h"
#include "dispatchctl/operator_text.h"

namespace cit::ctl {

// "FIX 3D", "DOOR 2 OPEN", "SEAL 1 BROKEN", "PANIC gpio:17", "CREW IN B-1", "GNSS FIX_LOST",
// "HEARTBEAT": what a record is, in the words the alerts use.
std::string RecordWhat(const cit::v1::Record& record);

class TrackTable {
 public:
  explicit TrackTable(TimeZoneChoice zone) : zone_(zone) {}

  std::string Header() const;
  // One line; counts the record for the summary.
  std::string Line(const cit::v1::StoredRecord& stored);
  // "1,204 records (1,200 fixes, 2 door, 1 panic, 1 heartbeat) from ... to ..." or
  // "No records in this range." when nothing was shown.
  std::string Summary() const;

 private:
  TimeZoneChoice zone_;
  std::uint64_t records_ = 0;
  std::map<std::string, std::uint64_t> by_kind_;  // "fixes", "door", ...
  google::protobuf::Timestamp first_;
  google::protobuf::Timestamp last_;
};

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_TRACK_TABLE_H_
