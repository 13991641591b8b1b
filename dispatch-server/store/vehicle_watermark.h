// Per-vehicle delivery bookkeeping shared by the record-store backends (SqliteStore,
// PostgresStore): the contiguous seq watermark, seqs and declared gaps handled above it, and the
// hash-chain head. A commit stages its changes in a PendingChain on top of the published
// VehicleChain and publishes them only after the database transaction committed.
//
//   PendingChain c(&published);          // nullptr for a vehicle never seen
//   if (!c.Mark(seq)) ...                // already handled
//   c.Advance();                         // move the watermark over what joins it
//   ... COMMIT ...
//   c.PublishTo(published);
//
// Thread contract: none; the store serialises commits and guards the published map.
#ifndef CIT_DISPATCH_STORE_VEHICLE_WATERMARK_H_
#define CIT_DISPATCH_STORE_VEHICLE_WATERMARK_H_

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <set>
#include <string>

#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {

struct VehicleChain {
  uint64_t contiguous_seq = 0;
  std::set<uint64_t> handled_above;  // handled seqs > contiguous_seq
  // Declared gaps (first -> last) above contiguous_seq + 1: a thinned journal's holes arrive
  // with the batch after them, possibly before older records are stored.
  std::map<uint64_t, uint64_t> gaps_above;
  uint64_t chain_index = 0;
  std::string head_hash;
};

// What one commit changes for one vehicle, on top of its published VehicleChain (read-only
// until COMMIT succeeds): only the batch's own seqs are held here, so a commit never copies
// the vehicle's whole above-watermark set (it grows without bound behind a missing seq).
struct PendingChain {
  const VehicleChain* base = nullptr;  // the published state; null for a new vehicle
  uint64_t contiguous_seq = 0;
  uint64_t chain_index = 0;
  std::string head_hash;
  std::set<uint64_t> added;                 // seqs this batch handles above contiguous_seq
  std::map<uint64_t, uint64_t> added_gaps;  // gaps this batch declares (first -> last)
  uint64_t work = 0;                        // entries inserted, visited or erased

  explicit PendingChain(const VehicleChain* published) : base(published) {
    if (base != nullptr) {
      contiguous_seq = base->contiguous_seq;
      chain_index = base->chain_index;
      head_hash = base->head_hash;
    }
    if (head_hash.empty()) head_hash = kChainGenesis;
  }

  // Marks `seq` handled; false if it already was (seq 0 is never tracked).
  bool Mark(uint64_t seq) {
    if (seq == 0) return true;
    if (seq <= contiguous_seq || (base != nullptr && base->handled_above.count(seq) != 0)) {
      return false;
    }
    ++work;
    if (seq == contiguous_seq + 1) {  // the usual case, the next seq: the watermark moves now
      contiguous_seq = seq;
      return true;
    }
    return added.insert(seq).second;
  }

  void AddGap(uint64_t first, uint64_t last) {
    if (last <= contiguous_seq) return;
    ++work;
    uint64_t& l = added_gaps[first];
    l = std::max(l, last);
  }

  // Moves contiguous_seq over every handled seq and gap, published or added, that joins it.
  // Each entry is passed at most once: the cost is the distance moved, not the set sizes.
  void Advance() {
    static const std::set<uint64_t> kNoSeqs;
    static const std::map<uint64_t, uint64_t> kNoGaps;
    const std::set<uint64_t>& base_seqs = base != nullptr ? base->handled_above : kNoSeqs;
    const std::map<uint64_t, uint64_t>& base_gaps = base != nullptr ? base->gaps_above : kNoGaps;
    auto b = base_seqs.begin();
    auto a = added.begin();
    auto bg = base_gaps.begin();
    auto ag = added_gaps.begin();
    while (true) {
      const uint64_t next = contiguous_seq + 1;
      // Seqs at or below the watermark (passed by a gap) are skipped.
      for (; b != base_seqs.end() && *b < next; ++b) ++work;
      for (; a != added.end() && *a < next; ++a) ++work;
      if (b != base_seqs.end() && *b == next) {
        contiguous_seq = next;
      } else if (a != added.end() && *a == next) {
        contiguous_seq = next;
      } else if (bg != base_gaps.end() && bg->first <= next) {
        contiguous_seq = std::max(contiguous_seq, bg->second);
        ++bg;
      } else if (ag != added_gaps.end() && ag->first <= next) {
        contiguous_seq = std::max(contiguous_seq, ag->second);
        ++ag;
      } else {
        return;
      }
      ++work;
    }
  }

  // Applies the changes to the published state (after COMMIT).
  void PublishTo(VehicleChain& c) {
    for (uint64_t seq : added) {
      if (seq > contiguous_seq) c.handled_above.insert(seq);
    }
    for (const auto& [first, last] : added_gaps) {
      if (last <= contiguous_seq) continue;
      uint64_t& l = c.gaps_above[first];
      l = std::max(l, last);
    }
    c.contiguous_seq = contiguous_seq;
    c.chain_index = chain_index;
    c.head_hash = head_hash;
    // Everything the watermark passed: Advance consumed every gap starting at or below it.
    auto seqs_end = c.handled_above.upper_bound(contiguous_seq);
    work += static_cast<uint64_t>(std::distance(c.handled_above.begin(), seqs_end));
    c.handled_above.erase(c.handled_above.begin(), seqs_end);
    auto gaps_end = c.gaps_above.upper_bound(contiguous_seq + 1);
    work += static_cast<uint64_t>(std::distance(c.gaps_above.begin(), gaps_end));
    c.gaps_above.erase(c.gaps_above.begin(), gaps_end);
  }
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_STORE_VEHICLE_WATERMARK_H_
