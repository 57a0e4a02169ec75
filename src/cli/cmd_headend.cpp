// `dcas headend ...`: the operator's side of the MSO headend — its database (network, client
// images, products, subscriptions, download orders) and the CAS on the broadcast (`headend
// broadcast`). The headend's network service is `dcas headend serve` (cmd_serve.cpp).
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

#include "cli/commands.h"
#include "common/files.h"
#include "headend/broadcast.h"
#include "headend/headend_store.h"
#include "protocol/cas.h"
#include "protocol/client_image.h"
#include "protocol/envelope.h"

namespace dcas::cli {

Result<OutputFile> OutputFile::create(const std::string& path) {
  if (path == "-") return OutputFile(stdout, path, {});
  // A new file of its own beside OUT (mkstemp: never one that exists, nor a link), public like a stream.
  std::string partial = path + ".partial-XXXXXX";
  const int fd = ::mkstemp(partial.data());
  std::FILE* f = fd < 0 ? nullptr : ::fdopen(fd, "wb");
  if (!f || ::fchmod(fd, 0644) != 0) {
    if (f)
      std::fclose(f);
    else if (fd >= 0)
      ::close(fd);
    if (fd >= 0) std::remove(partial.c_str());
    return fail(Errc::io_error, fmt::format("cannot create {}", path));
  }
  return OutputFile(f, path, partial);
}

OutputFile::OutputFile(OutputFile&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)), path_(std::move(other.path_)), partial_(std::move(other.partial_)) {}

OutputFile::~OutputFile() {
  if (!file_ || partial_.empty()) return;
  std::fclose(file_);
  std::remove(partial_.c_str());
}

Result<void> OutputFile::commit() {
  if (!file_) return fail(Errc::io_error, "output committed twice");
  if (partial_.empty()) {
    if (std::fflush(file_) != 0) return fail(Errc::io_error, "cannot write the standard output");
    file_ = nullptr;
    return {};
  }
  const bool written = std::fflush(file_) == 0 && std::fclose(std::exchange(file_, nullptr)) == 0;
  if (!written || std::rename(partial_.c_str(), path_.c_str()) != 0) {
    std::remove(partial_.c_str());
    return fail(Errc::io_error, fmt::format("cannot write {}", path_));
  }
  return {};
}

Result<void> transform_file(const std::string& in_path, const std::string& out_path,
                            const std::function<Result<void>(ByteView chunk, Bytes& out)>& process,
                            const std::function<Result<void>(Bytes& out)>& finish) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(in_path.c_str(), "rb"), std::fclose);
  if (!in) return fail(Errc::io_error, fmt::format("cannot open {}", in_path));
  DCAS_TRY_ASSIGN(out, OutputFile::create(out_path));
  Bytes buffer(188 * 2048), produced;
  for (;;) {
    const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), in.get());
    if (n == 0) break;
    produced.clear();
    DCAS_TRY(process(ByteView(buffer).first(n), produced));
    if (!produced.empty() && std::fwrite(produced.data(), 1, produced.size(), out.get()) != produced.size())
      return fail(Errc::io_error, fmt::format("cannot write {}", out_path));
  }
  if (std::ferror(in.get())) return fail(Errc::io_error, fmt::format("cannot read {}", in_path));
  produced.clear();
  DCAS_TRY(finish(produced));
  if (!produced.empty() && std::fwrite(produced.data(), 1, produced.size(), out.get()) != produced.size())
    return fail(Errc::io_error, fmt::format("cannot write {}", out_path));
  return out.commit();
}

namespace {

struct HeadendArgs {
  std::string dir, network_id = "0000000000000001", name, sm, code_file, algo = "csa2", in, out;
  std::uint64_t product = 1, version = 0;
  std::size_t image_size = 16 * 1024;
  double days = 30, crypto_period = 2;
  std::uint16_t ca_system_id = headend::BroadcastConfig{}.ca_system_id;
  std::uint16_t ecm_pid = headend::BroadcastConfig{}.ecm_pid, emm_pid = headend::BroadcastConfig{}.emm_pid;
  bool all = false, json = false;
  std::uint64_t rekey_after = headend::BroadcastConfig{}.rekey_after;
};

HeadendArgs& args() {
  static HeadendArgs a;
  return a;
}

auto now() { return std::chrono::system_clock::now(); }

Result<std::unique_ptr<headend::HeadendStore>> open_headend() {
  return headend::HeadendStore::open_directory(args().dir);
}

Result<void> init() {
  auto& a = args();
  DCAS_TRY_ASSIGN(network, from_hex_exact(a.network_id, 8, "--network-id"));
  const Bytes code = headend::stand_in_client_code(1, a.image_size);
  DCAS_TRY(headend::init_headend_directory(a.dir, network, code, crypto::system_random(), now()));
  fmt::print("headend in {}: network {}, client image version 1 ({} bytes), product 1 \"basic\"\n", a.dir, a.network_id,
             code.size());
  return {};
}

std::string rekey_note(std::uint64_t product, std::uint64_t epoch) {
  return fmt::format(
      "product {} key epoch {} issued: the next broadcast sends it to the subscribers, then switches "
      "its ECMs to it (after --rekey-after crypto periods, default {})",
      product, epoch, headend::BroadcastConfig{}.rekey_after);
}

Result<void> rekey() {
  auto& a = args();
  DCAS_TRY_ASSIGN(store, open_headend());
  DCAS_TRY_ASSIGN(next, store->rekey_product(a.product, crypto::system_random(), now()));
  fmt::print("{}\n", rekey_note(a.product, next.epoch));
  return {};
}

Result<void> add_product() {
  auto& a = args();
  DCAS_TRY_ASSIGN(store, open_headend());
  DCAS_TRY(store->add_product(a.product, a.name, crypto::system_random()));
  fmt::print("product {} \"{}\" with a fresh product key\n", a.product, a.name);
  return {};
}

Result<void> subscribe(bool add) {
  auto& a = args();
  DCAS_TRY_ASSIGN(sm, SmId::from_hex(a.sm));
  DCAS_TRY_ASSIGN(store, open_headend());
  if (!add) {
    DCAS_TRY_ASSIGN(removed, store->unsubscribe(sm, a.product));
    if (!removed) return fail(Errc::not_found, fmt::format("SM {} has no subscription to product {}", a.sm, a.product));
    // The SM still holds the product key: a new one, which its EMMs will never carry.
    DCAS_TRY_ASSIGN(next, store->rekey_product(a.product, crypto::system_random(), now()));
    fmt::print("SM {} unsubscribed from product {}; {}\n", sm.hex(), a.product, rekey_note(a.product, next.epoch));
    return {};
  }
  const auto until = protocol::to_unix_ms(now()) / 1000 + static_cast<std::uint64_t>(a.days * 86400);
  DCAS_TRY(store->subscribe(sm, a.product, until));
  fmt::print("SM {} subscribed to product {} until {} (Unix time)\n", sm.hex(), a.product, until);
  return {};
}

Result<void> publish() {
  auto& a = args();
  DCAS_TRY_ASSIGN(store, open_headend());
  DCAS_TRY_ASSIGN(current, store->current_image());
  const std::uint64_t version = a.version ? a.version : (current ? current->version : 0) + 1;
  Bytes code;
  if (!a.code_file.empty()) {
    DCAS_TRY_ASSIGN(text, read_text_file(a.code_file));
    code.assign(text.begin(), text.end());
  } else {
    code = headend::stand_in_client_code(version, a.image_size);
  }
  DCAS_TRY(store->publish_image(version, code, now()));
  fmt::print("client image version {} published ({} bytes); the AP announces it within a second\n", version,
             code.size());
  return {};
}

Result<void> order_download() {
  auto& a = args();
  if (a.all == !a.sm.empty()) return fail(Errc::invalid_argument, "give --sm ID or --all");
  std::optional<SmId> target;
  if (!a.all) {
    DCAS_TRY_ASSIGN(sm, SmId::from_hex(a.sm));
    target = sm;
  }
  DCAS_TRY_ASSIGN(store, open_headend());
  DCAS_TRY(store->order_download(target, now()));
  fmt::print("DCASDownload ordered for {}; the AP sends it to connected hosts within a second\n",
             target ? "SM " + target->hex() : std::string("every SM"));
  return {};
}

Result<void> show() {
  auto& a = args();
  DCAS_TRY_ASSIGN(store, open_headend());
  DCAS_TRY_ASSIGN(network, store->network_id());
  DCAS_TRY_ASSIGN(image, store->current_image());
  DCAS_TRY_ASSIGN(products, store->products());
  DCAS_TRY_ASSIGN(subscriptions, store->subscriptions());
  nlohmann::json j{{"network_id", to_hex(network)},
                   {"image_version", image ? image->version : 0},
                   {"image_bytes", image ? image->code.size() : 0},
                   {"products", nlohmann::json::array()},
                   {"subscriptions", nlohmann::json::array()}};
  for (const auto& p : products) j["products"].push_back({{"id", p.id}, {"name", p.name}});
  for (const auto& s : subscriptions) {
    DCAS_TRY_ASSIGN(ca_key, store->find_ca_key(s.sm));
    j["subscriptions"].push_back({{"sm_id", s.sm.hex()},
                                  {"product", s.product_id},
                                  {"expires_at", s.expires_at},
                                  {"personalized", ca_key.has_value()}});
  }
  if (a.json) return print_json(j), Result<void>{};
  fmt::print("network {}, client image version {} ({} bytes)\n", to_hex(network),
             j["image_version"].get<std::uint64_t>(), j["image_bytes"].get<std::size_t>());
  for (const auto& p : products) fmt::print("product {} \"{}\"\n", p.id, p.name);
  for (const auto& s : j["subscriptions"])
    fmt::print("SM {} -> product {} until {}{}\n", s["sm_id"].get<std::string>(), s["product"].get<std::uint64_t>(),
               s["expires_at"].get<std::uint64_t>(), s["personalized"].get<bool>() ? "" : " (no image downloaded yet)");
  return {};
}

// The EMMs of every current subscriber to the product that has downloaded an image (and so has a
// CA key) on this network: one for the key in use and, after a rekeying, one for the next key.
Result<std::vector<headend::SealedEmm>> subscriber_emms(headend::HeadendStore& store, std::uint64_t product,
                                                        const headend::ProductKeys& keys, std::size_t& subscribers,
                                                        std::vector<std::string>& skipped) {
  DCAS_TRY_ASSIGN(subscriptions, store.subscriptions());
  const auto issued = protocol::to_unix_ms(now());
  std::vector<headend::SealedEmm> emms;
  for (const auto& s : subscriptions) {
    if (s.product_id != product || s.expires_at <= issued / 1000) continue;
    DCAS_TRY_ASSIGN(ca_key, store.find_ca_key(s.sm));
    if (!ca_key) {
      skipped.push_back(s.sm.hex());
      continue;
    }
    ++subscribers;
    for (const auto* key : {&keys.current, keys.next ? &*keys.next : nullptr}) {
      if (!key) continue;
      DCAS_TRY_ASSIGN(emm, protocol::seal_emm(view(*ca_key), s.sm, {product, s.expires_at, issued, key->epoch},
                                              view(key->key), crypto::system_random()));
      emms.push_back({key->epoch, std::move(emm)});
    }
  }
  return emms;
}

Result<void> broadcast() {
  auto& a = args();
  auto algorithm = ts::algorithm_from_name(a.algo);
  if (!algorithm) return fail(Errc::invalid_argument, "--algo must be csa2, cissa or idsa");
  DCAS_TRY_ASSIGN(store, open_headend());
  DCAS_TRY_ASSIGN(keys, store->product_keys(a.product));
  std::vector<std::string> skipped;
  std::size_t subscribers = 0;
  DCAS_TRY_ASSIGN(emms, subscriber_emms(*store, a.product, keys, subscribers, skipped));
  headend::BroadcastConfig config;
  config.algorithm = *algorithm;
  config.crypto_period = std::chrono::milliseconds(static_cast<std::int64_t>(a.crypto_period * 1000));
  config.product_id = a.product;
  config.ca_system_id = a.ca_system_id;
  config.ecm_pid = a.ecm_pid;
  config.emm_pid = a.emm_pid;
  config.rekey_after = a.rekey_after;
  const std::optional<std::uint64_t> pending = keys.next ? std::optional(keys.next->epoch) : std::nullopt;
  bool aired = false;
  DCAS_TRY_ASSIGN(broadcaster,
                  headend::Broadcaster::create(config, std::move(keys), std::move(emms), crypto::system_random()));
  ts::PacketFramer framer;
  std::vector<ts::StreamError> errors;
  const auto streamed = transform_file(
      a.in, a.out,
      [&](ByteView chunk, Bytes& out) -> Result<void> {
        Bytes packets;
        std::vector<std::uint64_t> offsets;
        framer.feed(chunk, packets, offsets, errors);
        // Before its first EMM leaves: a rekeying from now on makes a new epoch, not this one again.
        if (pending && !aired && !packets.empty()) {
          DCAS_TRY(store->mark_aired(a.product, *pending, now()));
          aired = true;
        }
        return broadcaster.process(packets, out);
      },
      [&](Bytes&) -> Result<void> {
        framer.finish(errors);
        DCAS_TRY(framer.require_a_packet(a.in));
        // The ECMs are under the next key now: it is the key in use, recorded before OUT exists
        // (a broadcast too short to reach the switch leaves it pending, and on air).
        const auto& st = broadcaster.stats();
        if (st.switched_at) DCAS_TRY(store->complete_rekey(a.product, st.key_epoch));
        return {};
      });
  if (!streamed) return std::unexpected(streamed.error());
  const auto& st = broadcaster.stats();
  nlohmann::json j{{"algorithm", a.algo},
                   {"product", a.product},
                   {"crypto_period_ms", config.crypto_period.count()},
                   {"ca_system_id", st.elementary_pids.empty() ? 0 : a.ca_system_id},
                   {"ecm_pid", a.ecm_pid},
                   {"emm_pid", a.emm_pid},
                   {"subscribers", subscribers},
                   {"not_personalized", skipped},
                   {"packets_in", st.packets_in},
                   {"packets_out", st.packets_out},
                   {"scrambled", st.scrambled},
                   {"crypto_periods", st.crypto_periods},
                   {"ecm_sections", st.ecm_sections},
                   {"emm_sections", st.emm_sections},
                   {"elementary_pids", st.elementary_pids},
                   {"input_errors", errors.size() + st.errors},
                   {"key_epoch", st.key_epoch},
                   {"rekeyed_at_period", st.switched_at ? nlohmann::json(*st.switched_at) : nlohmann::json()}};
  if (a.json) return print_json(j), Result<void>{};
  fmt::print(
      "{} -> {}: {} packets scrambled ({}) over {} crypto periods of {} ms; {} ECM and {} EMM sections "
      "for {} subscriber(s) of product {}\n",
      a.in, a.out, st.scrambled, a.algo, st.crypto_periods, config.crypto_period.count(), st.ecm_sections,
      st.emm_sections, subscribers, a.product);
  for (const auto& sm : skipped) fmt::print("  SM {} is subscribed but has no image on this network: no EMM\n", sm);
  if (st.switched_at)
    fmt::print("  rekeyed: the ECMs switched to product key epoch {} at crypto period {}\n", st.key_epoch,
               *st.switched_at);
  return {};
}

void run(std::string_view name, const std::function<Result<void>()>& f) {
  if (auto r = f(); !r) report_error(name, r.error());
}

}  // namespace

void add_headend(CLI::App& app) {
  auto& a = args();
  auto* h = app.add_subcommand("headend", "The MSO headend: PS and download server, CAS (and `headend serve`)");
  h->require_subcommand(1);
  auto dir_option = [&](CLI::App* c) {
    c->add_option("--headend", a.dir, "The headend's directory (headend.sqlite, store.key)")->required();
  };

  auto* init_cmd = h->add_subcommand("init", "Create a headend: database, operator key, image version 1, product 1");
  init_cmd->add_option("DIR", a.dir, "Directory to create")->required();
  init_cmd->add_option("--network-id", a.network_id, "The MSO network, 16 hex digits")->capture_default_str();
  init_cmd->add_option("--image-size", a.image_size, "Bytes of the stand-in client application")
      ->check(CLI::Range(std::size_t{0}, protocol::max_image_code_size))
      ->capture_default_str();
  init_cmd->callback([] { run("headend init", init); });

  auto* product = h->add_subcommand("product", "Add a CAS product with a fresh product key (or: product rekey N)");
  product->add_option("--headend", a.dir, "The headend's directory (headend.sqlite, store.key)");
  auto* id_option = product->add_option("--id", a.product, "Product ID");
  auto* name_option = product->add_option("--name", a.name, "Product name");
  auto* rekey_cmd = product->add_subcommand(
      "rekey", "Issue the product's next key: the next broadcast sends it to the subscribers, then switches to it");
  rekey_cmd->add_option("--headend", a.dir, "The headend's directory (headend.sqlite, store.key)");
  rekey_cmd->add_option("N", a.product, "Product ID")->required();
  rekey_cmd->callback([] {
    if (args().dir.empty())
      return report_error("headend product rekey", {Errc::invalid_argument, "--headend is required"});
    run("headend product rekey", rekey);
  });
  product->require_subcommand(0, 1);
  product->callback([product, rekey_cmd, id_option, name_option] {
    if (rekey_cmd->parsed()) return;
    if (id_option->count() == 0 || name_option->count() == 0 || args().dir.empty())
      return report_error("headend product", {Errc::invalid_argument, "--headend, --id and --name are required"});
    run("headend product", add_product);
    (void)product;
  });

  auto* sub = h->add_subcommand("subscribe", "Entitle an SM to a product");
  dir_option(sub);
  sub->add_option("--sm", a.sm, "SM_ID, 16 hex digits")->required();
  sub->add_option("--product", a.product, "Product ID")->capture_default_str();
  sub->add_option("--days", a.days, "Days the entitlement lasts")
      ->check(CLI::Range(0.0, 36500.0))
      ->capture_default_str();
  sub->callback([] { run("headend subscribe", [] { return subscribe(true); }); });

  auto* unsub = h->add_subcommand("unsubscribe", "End an SM's entitlement to a product");
  dir_option(unsub);
  unsub->add_option("--sm", a.sm, "SM_ID, 16 hex digits")->required();
  unsub->add_option("--product", a.product, "Product ID")->capture_default_str();
  unsub->callback([] { run("headend unsubscribe", [] { return subscribe(false); }); });

  auto* pub = h->add_subcommand("publish", "Publish a new client image version (versions only go up)");
  dir_option(pub);
  pub->add_option("--version", a.version, "Version (default: the current one + 1)");
  pub->add_option("--code", a.code_file, "The client application (default: a stand-in of --image-size bytes)");
  pub->add_option("--image-size", a.image_size, "Bytes of the stand-in client application")
      ->check(CLI::Range(std::size_t{0}, protocol::max_image_code_size))
      ->capture_default_str();
  pub->callback([] { run("headend publish", publish); });

  auto* dl = h->add_subcommand("download", "Order a DCASDownload to one SM or every SM on the network");
  dir_option(dl);
  dl->add_option("--sm", a.sm, "SM_ID, 16 hex digits");
  dl->add_flag("--all", a.all, "Every SM");
  dl->callback([] { run("headend download", order_download); });

  auto* show_cmd = h->add_subcommand("show", "Network, image, products, subscriptions");
  dir_option(show_cmd);
  show_cmd->add_flag("--json", a.json, "Print as JSON");
  show_cmd->callback([] { run("headend show", show); });

  auto* bc = h->add_subcommand("broadcast", "Scramble a clear TS with ECMs and EMMs for one product");
  dir_option(bc);
  bc->add_option("IN", a.in, "Clear MPEG-TS")->required();
  bc->add_option("OUT", a.out, "Scrambled MPEG-TS")->required();
  bc->add_option("--product", a.product, "The channel's product")->capture_default_str();
  bc->add_option("--algo", a.algo, "csa2, cissa or idsa")->capture_default_str();
  bc->add_option("--crypto-period", a.crypto_period, "Seconds per control word, 1-20")
      ->check(CLI::Range(1.0, 20.0))
      ->capture_default_str();
  bc->add_option("--ca-system-id", a.ca_system_id, "CA_system_ID signalled")->capture_default_str();
  bc->add_option("--ecm-pid", a.ecm_pid, "PID of the ECMs")->capture_default_str();
  bc->add_option("--emm-pid", a.emm_pid, "PID of the EMMs")->capture_default_str();
  bc->add_option("--rekey-after", a.rekey_after,
                 "After a rekeying: crypto periods of EMMs with the next key before the ECMs switch to it")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1000}))
      ->capture_default_str();
  bc->add_flag("--json", a.json, "Print the outcome as JSON");
  bc->callback([] { run("headend broadcast", broadcast); });
}

}  // namespace dcas::cli
