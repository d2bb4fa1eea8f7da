#pragma once
/// StreamSessions: the streamed upstream responses in flight, read batch by batch through the bus
/// (provider.completion.next.v1) so that a stream crosses the bus like any command, in one process
/// or between processes. Each session's connection stays on the executor that opened it; reads are
/// spawned there.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "lt/core/result.hpp"
#include "lt/providers/providers.hpp"
#include "upstream_client.hpp"

namespace lt::providers {

/// What an OpenAI `chat.completion.chunk` stream said so far, turned into gateway events.
/// `reported_completion` carries the running completion count between batches (for upstreams that
/// send usage in every chunk).
/// The batch carries the deltas with output, the finish reason and usage when the upstream sent them,
/// `done` from `batch`, and an error message for a malformed chunk or an upstream error event.
StreamBatch translate_sse(const SseBatch& batch, long long& reported_completion);

/// Thread-safe: called from any executor.
class StreamSessions {
public:
    ~StreamSessions();
    /// Registers an open stream; returns its id. Sessions not read for 2 × idle + 60 s are dropped.
    std::string add(std::unique_ptr<UpstreamStream> stream, std::chrono::milliseconds idle);
    /// The next batch of session `id` (waits at most its idle timeout). The session ends with the
    /// batch that is done or has an error. Errc::not_found for an unknown or ended session.
    boost::asio::awaitable<Result<StreamBatch>> next(std::string id);
    /// Stops session `id` (closes the upstream connection). Unknown ids are ignored.
    boost::asio::awaitable<void> close(std::string id);
    /// Sessions in flight.
    std::size_t size() const;

    struct Session;

private:
    std::shared_ptr<Session> take(const std::string& id, bool remove);
    mutable std::mutex mutex_;  ///< guards sessions_
    std::map<std::string, std::shared_ptr<Session>> sessions_;
};

}  // namespace lt::providers
