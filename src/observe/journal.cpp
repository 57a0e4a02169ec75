#include "observe/journal.h"

#include <fmt/format.h>

#include <sstream>

#include "wire/message.h"

namespace dcas {

// JSON forms of the values events carry (nlohmann's ADL hooks).
template <Role R>
void to_json(nlohmann::json& j, const DeviceId<R>& id) {
  j = id.hex();
}
template <Role R>
void from_json(const nlohmann::json& j, DeviceId<R>& id) {
  auto parsed = DeviceId<R>::from_hex(j.get<std::string>());
  if (!parsed) throw std::invalid_argument(parsed.error().message());
  id = *parsed;
}
inline void to_json(nlohmann::json& j, const Error& e) { j = {{"code", errc_name(e.code)}, {"detail", e.detail}}; }
inline void from_json(const nlohmann::json& j, Error& e) {
  auto code = errc_from_name(j.at("code").get<std::string>());
  if (!code) throw std::invalid_argument("unknown error " + j.at("code").get<std::string>());
  e = Error{*code, j.at("detail").get<std::string>()};
}

namespace protocol {

NLOHMANN_JSON_SERIALIZE_ENUM(Trigger, {{Trigger::power_up, "power_up"},
                                       {Trigger::security_announce_virgin, "security_announce_virgin"},
                                       {Trigger::security_announce_after_move, "security_announce_after_move"},
                                       {Trigger::dcas_download, "dcas_download"}})
NLOHMANN_JSON_SERIALIZE_ENUM(Verdict, {{Verdict::bound_virgin_pair, "bound_virgin_pair"},
                                       {Verdict::rejoined, "rejoined"},
                                       {Verdict::rejoined_after_lapse, "rejoined_after_lapse"},
                                       {Verdict::refused_unknown, "refused_unknown"},
                                       {Verdict::refused_bound_elsewhere, "refused_bound_elsewhere"},
                                       {Verdict::refused_active, "refused_active"},
                                       {Verdict::refused_revoked, "refused_revoked"}})
NLOHMANN_JSON_SERIALIZE_ENUM(PairingState, {{PairingState::virgin, "virgin"},
                                            {PairingState::auth_paired, "auth-paired"},
                                            {PairingState::paired_only, "paired-only"}})

namespace events {
NLOHMANN_JSON_SERIALIZE_ENUM(IgnoredBecause, {{IgnoredBecause::addressed_to_another_sm, "addressed_to_another_sm"},
                                              {IgnoredBecause::virgin_sm, "virgin_sm"}})

// The events without data.
#define DCAS_EMPTY_EVENT_JSON(T)                                                     \
  inline void to_json(nlohmann::json& j, const T&) { j = nlohmann::json::object(); } \
  inline void from_json(const nlohmann::json&, T&) {}
DCAS_EMPTY_EVENT_JSON(WaitingForAnnounce)
DCAS_EMPTY_EVENT_JSON(AnnounceNoChange)
DCAS_EMPTY_EVENT_JSON(KpkReceived)
DCAS_EMPTY_EVENT_JSON(ImageRequested)
#undef DCAS_EMPTY_EVENT_JSON

inline void to_json(nlohmann::json& j, const ImageInstalled& e) {
  j = {{"version", e.version}, {"code_digest_prefix", to_hex(e.code_digest_prefix)}};
}
inline void from_json(const nlohmann::json& j, ImageInstalled& e) {
  e.version = j.at("version").get<std::uint64_t>();
  auto digest = from_hex(j.at("code_digest_prefix").get<std::string>());
  if (!digest) throw std::invalid_argument(digest.error().message());
  e.code_digest_prefix = *digest;
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ProtocolStarted, trigger)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AnnouncementRefused, error)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DownloadIgnored, reason)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TpCertificateVerified, tp)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(KeysConfirmed, tp)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ImageKeyEstablished, version)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DownloadFailed, error)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Entitlement, product, expires_at, key_epoch)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ProtocolStopped, error)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SmCertificateVerified, sm)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(KeysDerived, sm)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ControlWordRefused, error)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ControlWordsInstalled, sequence, odd, even)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SmAuthenticated, sm)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(KeyRequestRefused, error)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(KeyResponseRefused, error)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(KeyResponseRelayed, sm)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RefusalRelayed, sm)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AnswerTimedOut, sm, error)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PresenceEnded, sm)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ImageKeyGranted, sm, version)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RequestRefused, error)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PairingValidated, sm, tp, verdict)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PairingRefused, sm, tp, verdict)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(HostLeft, sm, state)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(HostPresent, sm, state)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CrlAdopted, number, entries)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CwChannelRevoked, revoked, device, crl_number)
}  // namespace events
}  // namespace protocol

namespace observe {

namespace {

// The alternative of Event whose name is `name`, read from `fields`.
template <std::size_t I = 0>
std::optional<protocol::Event> decode_event(std::string_view name, const nlohmann::json& fields) {
  if constexpr (I == std::variant_size_v<protocol::Event>) {
    return std::nullopt;
  } else {
    using T = std::variant_alternative_t<I, protocol::Event>;
    if (T::name == name) return protocol::Event(fields.get<T>());
    return decode_event<I + 1>(name, fields);
  }
}

Role role_at(const nlohmann::json& j, const char* key) {
  auto r = role_from_name(j.at(key).get<std::string>());
  if (!r) throw std::invalid_argument(fmt::format("unknown role in '{}'", key));
  return *r;
}

}  // namespace

HopRecord hop_record(const protocol::Hop& hop, std::optional<SmId> sm) {
  auto header = wire::decode_header(hop.bytes);
  return {hop.from, hop.to, header ? header->type : std::uint8_t{0}, hop.bytes.size(), sm};
}

std::string route_of(const HopRecord& hop) { return fmt::format("{} -> {}", role_label(hop.from), role_label(hop.to)); }

std::string describe(const HopRecord& hop) {
  return fmt::format("{}, {} bytes", wire::type_name(static_cast<wire::MessageType>(hop.type)), hop.size);
}

bool is_failure(const protocol::Event& event) {
  return std::visit(
      [](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        return requires { e.error; }
        || std::is_same_v<T, protocol::events::PairingRefused> || std::is_same_v<T, protocol::events::RefusalRelayed> ||
            std::is_same_v<T, protocol::events::CwChannelRevoked>;
      },
      event);
}

LogLine event_log_line(const protocol::Event& event) {
  LogLine line{is_failure(event) ? LogLevel::warning : LogLevel::info,
               fmt::format("{} {}", protocol::event_name(event), protocol::event_detail(event)),
               std::string(protocol::event_name(event)),
               {}};
  const nlohmann::json fields = std::visit([](const auto& e) { return nlohmann::json(e); }, event);
  for (const auto& [name, value] : fields.items()) {
    if (value.is_object() && value.contains("code"))  // an Error: its code's name (the detail is in the text)
      line.fields.emplace_back(name, value["code"].get<std::string>());
    else if (value.is_string())
      line.fields.emplace_back(name, value.get<std::string>());
    else if (!value.is_null())
      line.fields.emplace_back(name, value.dump());
  }
  return line;
}

nlohmann::json to_json(const protocol::Event& event) {
  nlohmann::json fields = std::visit([](const auto& e) { return nlohmann::json(e); }, event);
  return {{"event", protocol::event_name(event)}, {"fields", fields}, {"detail", protocol::event_detail(event)}};
}

nlohmann::json to_json(const Record& record) {
  if (const auto* hop = std::get_if<HopRecord>(&record)) {
    nlohmann::json j{
        {"kind", "hop"},     {"from", role_name(hop->from)}, {"to", role_name(hop->to)}, {"type", hop->type},
        {"size", hop->size}, {"summary", describe(*hop)}};
    if (hop->sm) j["sm"] = hop->sm->hex();
    return j;
  }
  const auto& e = std::get<EventRecord>(record);
  nlohmann::json j = to_json(e.event);
  j["kind"] = "event";
  j["at"] = role_name(e.at);
  return j;
}

Result<protocol::Event> event_from_json(const nlohmann::json& j) {
  try {
    const auto name = j.at("event").get<std::string>();
    auto event = decode_event(name, j.at("fields"));
    if (!event) return fail(Errc::invalid_argument, "unknown event " + name);
    return *event;
  } catch (const std::exception& e) {  // nlohmann reports a missing or mistyped field by throwing
    return fail(Errc::invalid_argument, fmt::format("malformed event: {}", e.what()));
  }
}

Result<Record> record_from_json(const nlohmann::json& j) {
  try {
    const auto kind = j.at("kind").get<std::string>();
    if (kind == "hop") {
      HopRecord hop{role_at(j, "from"), role_at(j, "to"), j.at("type").get<std::uint8_t>(),
                    j.at("size").get<std::size_t>(), std::nullopt};
      if (j.contains("sm")) hop.sm = j.at("sm").get<SmId>();
      return hop;
    }
    if (kind != "event") return fail(Errc::invalid_argument, "unknown record kind " + kind);
    DCAS_TRY_ASSIGN(event, event_from_json(j));
    return EventRecord{role_at(j, "at"), std::move(event)};
  } catch (const std::exception& e) {
    return fail(Errc::invalid_argument, fmt::format("malformed record: {}", e.what()));
  }
}

Result<std::unique_ptr<Journal>> Journal::open(const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::app);
  if (!out) return fail(Errc::io_error, "cannot open the journal " + path.string());
  return std::make_unique<Journal>(std::move(out));
}

void Journal::write(const Record& record) {
  const std::string line = to_json(record).dump() + "\n";
  std::lock_guard lock(mutex_);
  out_ << line;
  out_.flush();
}

Result<std::vector<Record>> read_journal(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return fail(Errc::io_error, "cannot read the journal " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  std::vector<Record> records;
  std::string all = text.str(), line;
  std::size_t start = 0;
  for (std::size_t end; (end = all.find('\n', start)) != std::string::npos; start = end + 1) {
    auto j = nlohmann::json::parse(all.substr(start, end - start), nullptr, false);
    if (j.is_discarded()) return fail(Errc::invalid_argument, "a journal line is not JSON");
    DCAS_TRY_ASSIGN(record, record_from_json(j));
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace observe
}  // namespace dcas
