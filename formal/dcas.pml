/* What both profiles' models share (formal/README.md): the principals, the message, the links,
 * the TA's pairing store (spec §9), the ghosts the properties read, and the properties.
 * koo2010.pml and hardened1.pml add the four roles of their profile, what the attacker learns from
 * a message and what it can make; world.pml adds the world (power-ups, moves, lapses, leaks) and
 * the attacker's process.
 *
 * A scenario is a set of -D flags (formal/checks.txt): what the attacker holds and where it acts,
 * and which world events happen. A property is an LTL formula over `bad`, a ghost word in which a
 * role sets a property's bit at the step that breaks it; no role reads `bad` or any ghost.
 */

/* ---- principals ---- */
#define NONE 0
#define TA_ 1
#define AP_ 2
#define SM1 3   /* the subscriber's SM */
#define SMX 4   /* a genuine SM the attacker owns (TA-issued certificate, its key in the attacker's hand) */
#define TP1 5   /* box A's TP */
#define TP2 6   /* box B's TP: another box, the moved SM's new home */
#define ATK 7   /* the attacker: issuer of its own certificates, maker of its own messages */

/* ---- destinations on the links the attacker carries ---- */
#define BUS_A 8     /* SM1 over box A's bus (it gets it when it sits in box A) */
#define BUS_B 9     /* SM1 over box B's bus */
#define NET_SM 10   /* SM1 over the host-AP link (whichever box it is in) */
#define AP_LINK 11  /* the TA, over the AP's link (only an insider holding the AP's key sends there) */

#define FAILK 15    /* the failure KPK: twenty 0xff bytes, one value, TA-signed for every refusal */
#define NK 5        /* the TA's KPK values 1 .. NK-1 */
#define ATK_VALUE 15 /* the attacker's own fresh values (RANDHMAC, nonce, X25519 key) */

/* ---- the message: every field of every message type, symbolically (README: abstractions) ---- */
mtype = { power_up, tp_cert_req, tp_cert_rsp, key_req_sm, key_req_ap, key_rsp_ta, key_rsp_ap,
          cwek_info, cwek_cnfm, control_word, presence, announce };

/* The handshake's types exist in one profile each (spec §1); the rest are the same in both. */
#define HANDSHAKE(k) ((k) != power_up && (k) != control_word && (k) != presence && (k) != announce)
#define OTHER_PROFILE (3 - PROFILE)

typedef Msg {
  mtype kind;
  byte sm;      /* the SM it names: a certificate's subject, a KeyPairingID's or a statement's SM_ID */
  byte tp;      /* the TP it names */
  byte iss;     /* the issuer of the (SM's, or the only) certificate it carries: TA_, or ATK */
  byte tpiss;   /* hardened1 KeyRequest: the issuer of the TP's certificate inside */
  byte kpk;     /* the KPK it carries encrypted (koo2010: to `to`; hardened1: to sm and to tp) */
  byte x;       /* koo2010: RANDHMAC; hardened1: N_SM */
  byte y;       /* hardened1: N_TP, also E_TP (one fresh value of the TP's run); ControlWord: sequence */
  byte e;       /* hardened1: E_SM */
  byte ok;      /* hardened1 statement: its verdict (1 paired); presence: 1 present, 0 left */
  byte conf;    /* hardened1 CWEKGenInfo: 1 when its sender derived the run's keys and confirmed them */
  byte to;      /* koo2010: whose private key opens its encrypted part */
  byte signer;  /* whose private key signed it (NONE: unsigned) */
  byte inner;   /* an AP->TA KeyRequest: the SM that signed the request inside */
  byte hello;   /* hardened1 KeyRequest: who signed the TP's answer inside */
  byte t;       /* hardened1: the SM's signed time; a statement's not_after (in periods) */
  byte lt;      /* the AP's link time on the AP-TA link (spec §13.5, both profiles) */
  byte made;    /* ghost: the period it was made in */
  byte rn;      /* ghost: the SM run it belongs to; a ControlWord: its number */
  byte origin;  /* ghost: who made it */
  byte prof;    /* the profile of its type: PROFILE, or OTHER_PROFILE for the other one's handshake */
  byte link;    /* on the AP-TA link: whose key the link's TLS handshake proved (spec §13.2) */
  byte crl;     /* an announcement's CRL number (spec §18; 0: none carried) */
}

inline clear(m) {
  m.sm = NONE; m.tp = NONE; m.iss = NONE; m.tpiss = NONE; m.kpk = 0; m.x = 0; m.y = 0; m.e = 0;
  m.ok = 0; m.conf = 0; m.to = NONE; m.signer = NONE; m.inner = NONE; m.hello = NONE; m.t = 0;
  m.lt = 0; m.made = 0; m.rn = 0; m.origin = NONE; m.prof = PROFILE; m.link = NONE; m.crl = 0
}

inline copy(dst, src) {  /* dst := src */
  dst.kind = src.kind; dst.sm = src.sm; dst.tp = src.tp; dst.iss = src.iss; dst.tpiss = src.tpiss; dst.kpk = src.kpk;
  dst.x = src.x; dst.y = src.y; dst.e = src.e; dst.ok = src.ok; dst.conf = src.conf; dst.to = src.to; dst.signer = src.signer;
  dst.inner = src.inner; dst.hello = src.hello; dst.t = src.t; dst.lt = src.lt; dst.made = src.made; dst.rn = src.rn;
  dst.origin = src.origin; dst.prof = src.prof; dst.link = src.link; dst.crl = src.crl
}

/* ---- links ---- */
chan wire = [2] of { byte, Msg };   /* (destination, message) from every host-side sender: the attacker's */
chan to_sm = [2] of { Msg };
chan to_tp[2] = [2] of { Msg };
chan to_ap = [2] of { Msg };
chan ap_ta = [2] of { Msg };        /* the AP-TA link: mutual TLS (spec §13.2), not the attacker's */
chan ta_ap = [2] of { Msg };

/* ---- the world ---- */
byte now = 1;        /* the time, in periods longer than a lease (600 s) and than every window (120 s) */
byte box = 0;        /* which box's bus SM1 sits on: 0 = A (TP1), 1 = B (TP2) */
byte fresh = 1;      /* the next fresh value any role draws */
bool leaked = false; /* the scenario's key has leaked (after the SM's first run, or after every run) */

#define TP_OF(b) ((b) == 0 -> TP1 : TP2)
#define BUS_OF(b) ((b) == 0 -> BUS_A : BUS_B)
#define TP_INDEX(t) ((t) == TP1 -> 0 : 1)
#define IS_TP(t) ((t) == TP1 || (t) == TP2)
#define IS_SM(s) ((s) == SM1 || (s) == SMX)

/* Names a principal or destination in a replayed trail (spin -t prints printf lines, pan does not). */
inline name(p) {
  if
  :: p == TA_ -> printf("TA")
  :: p == AP_ -> printf("AP")
  :: p == SM1 -> printf("SM1")
  :: p == SMX -> printf("SMX")
  :: p == TP1 -> printf("TP1")
  :: p == TP2 -> printf("TP2")
  :: p == ATK -> printf("attacker")
  :: p == BUS_A -> printf("SM1 on box A's bus")
  :: p == BUS_B -> printf("SM1 on box B's bus")
  :: p == NET_SM -> printf("SM1 on the network")
  :: p == AP_LINK -> printf("TA over the AP's link")
  :: else -> printf("nobody")
  fi
}

/* One line of a trail: what happened to which message, going where. */
inline say(m, d) {
  printf(" %e (sm ", m.kind); name(m.sm); printf(", tp "); name(m.tp);
  printf(", kpk %d, run %d, made by ", m.kpk, m.rn); name(m.origin); printf(") to "); name(d); printf("\n")
}

inline draw(v) {
  atomic { v = fresh; fresh++ }
}

/* ---- the properties: one bit each, set by the role whose step breaks it ---- */
#define P_PAIR 1          /* a TP installs keys only from a KPK the TA made for that SM and that TP */
#define P_BOUND 2         /* the TA answers a KPK only for a bound pair, and never binds an SM to a second TP */
#define P_NEW_KEYS 4      /* an SM or a TP never installs a CWEK it installed in an earlier run */
#define P_CW_IN_ORDER 8   /* under one installed key a TP takes the SM's ControlWords once each, in order */
#define P_CW_ONCE 16      /* a TP never takes the same ControlWord twice, under any key */
#define P_PARTICIPANT 32  /* the TA validates (s, t) only if t answered a TPCertReq of s */
#define P_AP_BLIND 64     /* the AP (and whoever holds its key) never holds a KPK */
#define P_CW_SECRET 128   /* the attacker never holds a CWEK SM1 sealed under, unless the TA made its KPK for a TP the attacker owns */
#define P_CW_ORIGIN 256   /* a TP takes the attacker's ControlWords only under keys of a validation the attacker asked for */
#define P_REFUSAL 512     /* an SM stops on a refusal only in a run the TA refused */
#define P_FRESH_REQUEST 1024 /* the TA validates only a request made in the present period */
#define P_LINK_ONCE 2048  /* the TA acts on each message of its AP at most once */
#define P_AGREE 4096      /* an SM that confirmed keys with t holds keys t installed with that SM */
#define P_CERTIFIED 8192  /* a TP answers only an SM the TA certified */
#define P_OWN_REQUEST 16384 /* the TA validates (s, .) only on a request s signed */
#define P_JOINT 32768     /* the keys a TP installs depend on a fresh value of its own run (key control) */
#define P_ONE_PROFILE 65536 /* no role acts on a handshake message of the other profile (downgrade) */
#define P_LINK_AUTH 131072  /* the TA acts only on a link whose handshake the AP's key made */
#define P_REVOKED_TA 262144 /* the TA makes no KPK for a pair with a revoked end, and acts on nothing of a revoked AP */
#define P_REVOKED_KEYS 524288 /* once the TA's store revokes a device, no one installs or confirms keys with it */
#define P_REVOKED_CW 1048576  /* a party handed a CRL listing itself or its peer seals or takes no more control words with it */

int bad = 0;
#define BREAK(p) bad = bad | (p); printf("BROKEN: "); printf(#p); printf("\n")

ltl pair { [] ((bad & P_PAIR) == 0) }
ltl bound { [] ((bad & P_BOUND) == 0) }
ltl new_keys { [] ((bad & P_NEW_KEYS) == 0) }
ltl cw_in_order { [] ((bad & P_CW_IN_ORDER) == 0) }
ltl cw_once { [] ((bad & P_CW_ONCE) == 0) }
ltl participant { [] ((bad & P_PARTICIPANT) == 0) }
ltl ap_blind { [] ((bad & P_AP_BLIND) == 0) }
ltl cw_secret { [] ((bad & P_CW_SECRET) == 0) }
ltl cw_origin { [] ((bad & P_CW_ORIGIN) == 0) }
ltl refusal { [] ((bad & P_REFUSAL) == 0) }
ltl fresh_request { [] ((bad & P_FRESH_REQUEST) == 0) }
ltl link_once { [] ((bad & P_LINK_ONCE) == 0) }
ltl agree { [] ((bad & P_AGREE) == 0) }
ltl certified { [] ((bad & P_CERTIFIED) == 0) }
ltl own_request { [] ((bad & P_OWN_REQUEST) == 0) }
ltl joint { [] ((bad & P_JOINT) == 0) }
ltl one_profile { [] ((bad & P_ONE_PROFILE) == 0) }
ltl link_auth { [] ((bad & P_LINK_AUTH) == 0) }
ltl revoked_ta { [] ((bad & P_REVOKED_TA) == 0) }
ltl revoked_keys { [] ((bad & P_REVOKED_KEYS) == 0) }
ltl revoked_cw { [] ((bad & P_REVOKED_CW) == 0) }
/* Not a claim: a sanity check that the model's honest run gets a control word through (expected
 * violated in every scenario, or the model says nothing). */
ltl live { [] (!cw_taken[1]) }

/* ---- ghosts the properties read ---- */
byte kpk_sm[NK];         /* the pair the TA validated when it made KPK k */
byte kpk_tp[NK];
bool kpk_asked_by_atk[NK]; /* ... on a request the attacker made */
byte tp_answered[2];     /* bit s: TP i answered a TPCertReq of s */
byte ta_refused_run = 0; /* the last run of SM1 the TA refused */
bool cw_taken[8];        /* every ControlWord of SM1 a TP took, by its number */
byte cw_count = 0;
#ifndef MAXCW
#define MAXCW 2          /* control words SM1 seals, in all */
#endif
#ifndef CW_PER_RUN
#define CW_PER_RUN 1     /* control words it seals in each run */
#endif

/* A key, symbolically: (KPK, a, b). koo2010: (KPK, RANDHMAC, 0); hardened1: (KPK, E_SM, E_TP). */
#define NKEYS 3
byte inst_k[2 * NKEYS];  /* the keys each TP installed, and with which SM */
byte inst_a[2 * NKEYS];
byte inst_b[2 * NKEYS];
byte inst_peer[2 * NKEYS];
byte ninst[2];
byte sealed_k[NKEYS];    /* the keys SM1 sealed control words under */
byte sealed_a[NKEYS];
byte sealed_b[NKEYS];
byte nsealed = 0;
byte first_k, first_a;   /* SM1's first run's key (for -DLEAK_OLD) */

/* ---- revocation (spec §18) ----
 * The TA's CRL 1 lists no one; when the world revokes the scenario's device (-DREVOKE=SM1, TP1 or
 * AP_), the store marks it at once and CRL 2, listing it, is issued. The CRL authenticates itself
 * (the TA root's signature), so a CRL number is all a message carries of it, and only one the TA
 * issued can be carried. */
#ifdef REVOKE
#define REVOCATION 1
#else
#define REVOKE 99            /* no one */
#endif
#ifndef IGNORES_CRL
#define IGNORES_CRL 99       /* -DIGNORES_CRL=SM1 or TP1: a device modified to ignore every CRL */
#endif
byte crl_now = 1;            /* the TA's latest CRL number */
#define REVOKED(p) (crl_now >= 2 && (p) == REVOKE)   /* the TA's store: revoked now */
#define LISTS(n, p) ((n) >= 2 && (p) == REVOKE)      /* CRL number n lists p */
byte crl_given[8];           /* ghost: the newest CRL number each party was handed, by principal */

/* Party p is handed announcement m's CRL (the ghost P_REVOKED_CW reads). */
inline handed_crl(p, m) {
  if :: m.crl > crl_given[p] -> crl_given[p] = m.crl :: else -> skip fi
}

/* A party keeps the newest CRL it verified: an older one never replaces it (spec §18.1). */
inline keep_newest(held, m) {
  if :: m.crl > held -> held = m.crl :: else -> skip fi
}

/* P_REVOKED_CW: party p seals or takes a control word on a channel with q. */
inline cw_channel_check(p, q) {
  if
  :: p != IGNORES_CRL && (LISTS(crl_given[p], p) || LISTS(crl_given[p], q)) -> BREAK(P_REVOKED_CW)
  :: else -> skip
  fi
}

/* The SM of a TP's keys, which a CRL can revoke (only the revocation scenarios keep it). */
#ifdef REVOCATION
#define remember_keys_peer(v, p) v = p
#else
#define remember_keys_peer(v, p) skip
#endif

/* SM1 reads a verified announcement's CRL (spec §18.5) and keeps the newest; cut: the CRL it holds
 * now revokes it or the TP of its run, and it stops, erasing the run's keys. A modified SM reads
 * nothing. */
inline sm_reads_crl(m, held, tp_, cut) {
  cut = false;
  if
  :: m.signer == AP_ ->
       handed_crl(SM1, m);
       if
       :: SM1 != IGNORES_CRL -> keep_newest(held, m); cut = LISTS(held, SM1) || LISTS(held, tp_)
       :: else -> skip
       fi;
       if :: cut -> printf("SM1 stops: cw_channel_revoked\n") :: else -> skip fi
  :: else -> skip                                  /* a forged announcement changes nothing */
  fi
}

/* A TP is handed the CRL of an announcement its host passes to the SM (it trusts only the TA's
 * signature on it); the keys of a listed SM, or its own when it is listed, are erased. */
inline tp_reads_crl(me, m, held, k, kpeer) {
  handed_crl(me, m);
  if
  :: me != IGNORES_CRL ->
       keep_newest(held, m);
       if
       :: k != 0 && (LISTS(held, me) || LISTS(held, kpeer)) -> k = 0; name(me); printf(": cw_channel_revoked\n")
       :: else -> skip
       fi
  :: else -> skip
  fi
}

/* P_ONE_PROFILE: a role acts on message m. */
inline takes(m) {
  if :: m.prof != PROFILE -> BREAK(P_ONE_PROFILE) :: else -> skip fi
}

/* ---- the TA's pairing store (spec §9.1) ---- */
#define VIRGIN 0
#define AUTH_PAIRED 1
#define PAIRED_ONLY 2
byte sm_state[8];        /* by principal number */
byte bound_to[8];        /* an SM's TP, a TP's SM */
bool present[8];         /* an Auth/Paired SM's presence lease runs */
byte ap_time_taken = 0;  /* the AP's latest link time the TA took (spec §13.5) */
byte ap_clock = 0;       /* the AP's link clock */

/* The transition of §9.1 for (s, t); ok tells whether the TA answers with a fresh KPK. */
inline validate(s, t, ok) {
  if
  :: bound_to[s] == NONE && bound_to[t] == NONE && sm_state[s] == VIRGIN ->
       bound_to[s] = t; bound_to[t] = s; sm_state[s] = AUTH_PAIRED; present[s] = true; ok = true
  :: bound_to[s] == t && bound_to[t] == s && sm_state[s] == PAIRED_ONLY ->
       sm_state[s] = AUTH_PAIRED; present[s] = true; ok = true
  :: bound_to[s] == t && bound_to[t] == s && sm_state[s] == AUTH_PAIRED && !present[s] ->
       present[s] = true; ok = true
  :: else -> ok = false
  fi
}

/* HostPresence(left): Auth/Paired -> Paired Only (spec §9.2). */
inline host_left(s) {
  if
  :: sm_state[s] == AUTH_PAIRED -> sm_state[s] = PAIRED_ONLY; present[s] = false
  :: else -> skip
  fi
}

/* The AP's link time: signed and increasing; the TA takes each once (spec §13.5, both profiles). */
inline take_ap_time(m, fresh_ok) {
  if
  :: m.lt > ap_time_taken -> ap_time_taken = m.lt; fresh_ok = true
  :: else -> fresh_ok = false
  fi
}

/* ---- what the attacker holds ---- */
#ifdef LEAK_SM1
#define LEAKS_SM1 1
#else
#define LEAKS_SM1 0
#endif
#ifdef LEAK_TP1
#define LEAKS_TP1 1
#else
#define LEAKS_TP1 0
#endif
#ifdef LEAK_AP
#define LEAKS_AP 1
#else
#define LEAKS_AP 0
#endif
#ifdef OWN_TP2
#define OWNS(p) ((p) == TP2)     /* a device it runs: it holds every secret of the device */
#else
#define OWNS(p) false
#endif
/* Whose private key it holds: its own SM's, a device it owns, and the scenario's key once leaked. */
#define HOLDS_PRV(p) ((p) == SMX || OWNS(p) || (leaked && ((LEAKS_SM1 && (p) == SM1) || \
                      (LEAKS_TP1 && (p) == TP1) || (LEAKS_AP && (p) == AP_))))
bool knows_kpk[16];      /* KPK values it holds in clear */
bool knows_fresh[16];    /* RANDHMACs it read, and the X25519 secrets of values it or its devices drew */

/* ---- the property checks more than one role makes ---- */

/* P_CW_SECRET: after SM1 seals under a key, and after the attacker learns something. */
inline check_secret(j) {
  j = 0;
  do
  :: j < nsealed ->
       if
       :: KNOWS_CWEK(sealed_k[j], sealed_a[j], sealed_b[j]) && !OWNS(kpk_tp[sealed_k[j]]) -> BREAK(P_CW_SECRET)
       :: else -> skip
       fi;
       j++
  :: else -> break
  od
}

/* A TP installs key (k, a, b) with SM s: P_PAIR, P_NEW_KEYS, and the ghost P_AGREE reads. */
inline tp_installs(i, me, s, k, a, b, j) {
  name(me); printf(" installs keys (kpk %d, %d, %d) with ", k, a, b); name(s); printf("\n");
  if
  :: kpk_sm[k] != s || kpk_tp[k] != me -> BREAK(P_PAIR)
  :: else -> skip
  fi;
  if :: REVOKED(me) || REVOKED(s) -> BREAK(P_REVOKED_KEYS) :: else -> skip fi;
  j = 0;
  do
  :: j < ninst[i] ->
       if
       :: inst_k[i * NKEYS + j] == k && inst_peer[i * NKEYS + j] == s && SAME_CWEK(inst_a[i * NKEYS + j], a, inst_b[i * NKEYS + j], b) -> BREAK(P_NEW_KEYS)
       :: else -> skip
       fi;
       j++
  :: else -> break
  od;
  if
  :: ninst[i] < NKEYS -> inst_k[i * NKEYS + ninst[i]] = k; inst_a[i * NKEYS + ninst[i]] = a;
       inst_b[i * NKEYS + ninst[i]] = b; inst_peer[i * NKEYS + ninst[i]] = s; ninst[i]++
  :: else -> skip
  fi
}

/* P_AGREE: SM1 confirmed key (k, a, b) with t: t installed that key with SM1. */
inline sm_agrees(t, k, a, b, j, found) {
  printf("SM1 confirms keys (kpk %d, %d, %d) with ", k, a, b); name(t); printf("\n");
  found = false;
  j = 0;
  do
  :: j < ninst[TP_INDEX(t)] ->
       if
       :: inst_k[TP_INDEX(t) * NKEYS + j] == k && inst_a[TP_INDEX(t) * NKEYS + j] == a &&
          inst_b[TP_INDEX(t) * NKEYS + j] == b && inst_peer[TP_INDEX(t) * NKEYS + j] == SM1 -> found = true
       :: else -> skip
       fi;
       j++
  :: else -> break
  od;
  if
  :: !found -> BREAK(P_AGREE)
  :: else -> skip
  fi;
  if :: REVOKED(SM1) || REVOKED(t) -> BREAK(P_REVOKED_KEYS) :: else -> skip fi
}

/* SM1 seals under (k, a, b): the ghost P_CW_SECRET reads. */
inline sm_seals(k, a, b, j) {
  if
  :: nsealed < NKEYS -> sealed_k[nsealed] = k; sealed_a[nsealed] = a; sealed_b[nsealed] = b; nsealed++
  :: else -> skip
  fi;
  if
  :: first_k == 0 -> first_k = k; first_a = a
  :: else -> skip
  fi;
  check_secret(j)
}

/* TP me takes ControlWord m under its key with SM kpeer (its last genuine one was `last`): P_CW_*. */
inline tp_takes_cw(m, last, me, kpeer) {
  cw_channel_check(me, kpeer);
  if
  :: m.origin == SM1 ->
       if
       :: cw_taken[m.rn] -> BREAK(P_CW_ONCE)
       :: else -> cw_taken[m.rn] = true
       fi;
       if
       :: m.rn <= last -> BREAK(P_CW_IN_ORDER)
       :: else -> last = m.rn
       fi
  :: m.origin != SM1 && !kpk_asked_by_atk[m.kpk] -> BREAK(P_CW_ORIGIN)
  :: else -> skip
  fi
}

/* ---- the attacker's means (its process is in world.pml) ---- */
#ifndef MAXSTEPS
#define MAXSTEPS 2
#endif
#ifndef MAXINJ
#define MAXINJ 2         /* messages the attacker drops, substitutes or injects, in all */
#endif
#define NREC 7
Msg rec[NREC];           /* what it recorded, and where each went */
byte rec_to[NREC];
byte nrec = 0;
byte injected = 0;
bool relearned = false;

#ifdef BUS
#define ON_BUS 1
#else
#define ON_BUS 0
#endif
#ifdef NET
#define ON_NET 1
#else
#define ON_NET 0
#endif
#ifdef INSIDER
#define ON_LINK 1
#else
#define ON_LINK 0
#endif
#define ACTS_ON(d) ((ON_BUS && (IS_TP(d) || (d) == BUS_A || (d) == BUS_B)) || \
                    (ON_NET && ((d) == AP_ || (d) == NET_SM)) || (ON_LINK && (d) == AP_LINK))

inline remember(d, m) {
  if
  :: nrec < NREC -> copy(rec[nrec], m); rec_to[nrec] = d; nrec++
  :: else -> skip
  fi
}

inline deliver(d, m) {
  if
  :: d == NET_SM && m.kind == announce -> to_sm!m; to_tp[box]!m   /* the host hands its TP the CRL too */
  :: d == BUS_OF(box) || (d == NET_SM && m.kind != announce) -> to_sm!m
  :: d == TP1 -> to_tp[0]!m
  :: d == TP2 -> to_tp[1]!m
  :: d == AP_ -> to_ap!m
  :: d == AP_LINK -> ap_ta!m
  :: else -> skip        /* to SMX, the attacker's own SM, or to a bus SM1 is not on */
  fi
}

/* Any destination the attacker acts on. */
inline any_destination(d) {
  if
  :: ACTS_ON(TP1) -> d = TP1
  :: ACTS_ON(TP2) -> d = TP2
  :: ACTS_ON(BUS_A) -> d = BUS_OF(box)
  :: ACTS_ON(AP_) -> d = AP_
  :: ACTS_ON(NET_SM) -> d = NET_SM
  :: ACTS_ON(AP_LINK) -> d = AP_LINK
  :: else -> d = NONE
  fi
}

/* Picks one recorded message, any. */
inline pick(i) {
  i = 0;
  do
  :: i + 1 < nrec -> i++
  :: break
  od
}

/* Picks a KPK the attacker holds in clear, and a fresh value it knows. */
#define ANY_KPK (knows_kpk[1] || knows_kpk[2] || knows_kpk[3] || knows_kpk[4])
inline known_kpk(k) {   /* only when ANY_KPK */
  k = 1;
  do
  :: k + 1 < NK -> k++
  :: knows_kpk[k] -> break
  od
}
inline any_value(a) {   /* a value some role drew, or the attacker's own */
  a = 1;
  do
  :: a + 1 < fresh -> a++
  :: break
  :: a = ATK_VALUE; break
  od
}
inline known_fresh(a) { /* ends at the attacker's own value at the latest */
  a = 1;
  do
  :: a < ATK_VALUE -> a++
  :: knows_fresh[a] -> break
  od
}

/* ---- what the AP and the TA do alike in both profiles ---- */

/* The AP keeps the newest CRL it is given and announces it to its host at once (spec §18.4). */
inline ap_announces(m, held, out) {
  keep_newest(held, m);
  clear(out); out.kind = announce; out.crl = held; out.signer = AP_; out.made = now; out.origin = AP_;
  wire!NET_SM, out
}

/* The AP sends out on its link to the TA, under its signed link time (spec §13.5). An insider
 * holding the AP's key has the plaintext of what it sent. */
inline ap_sends_to_ta(out) {
  ap_clock++; out.lt = ap_clock; out.link = AP_;
#ifdef INSIDER
  remember(AP_LINK, out);
#endif
  ap_ta!out
}

/* The pairing transition for a request req the TA's checks passed, for (sm_, tp_), with the
 * properties the TA's answer can break. */
inline ta_validates(req, sm_, tp_, ok_) {
  validate(sm_, tp_, ok_);
  if :: ok_ && (REVOKED(sm_) || REVOKED(tp_)) -> BREAK(P_REVOKED_TA) :: else -> skip fi;
  printf("TA: KeyRequest for ("); name(sm_); printf(", "); name(tp_); printf("): %d\n", ok_);
  if :: ok_ && bound_to[sm_] != tp_ -> BREAK(P_BOUND) :: else -> skip fi;
  if :: ok_ && (tp_answered[TP_INDEX(tp_)] & (1 << sm_)) == 0 -> BREAK(P_PARTICIPANT) :: else -> skip fi;
  if :: ok_ && req.made != now -> BREAK(P_FRESH_REQUEST) :: else -> skip fi;
  if :: ok_ && req.inner != sm_ -> BREAK(P_OWN_REQUEST) :: else -> skip fi
}

/* The TA's admission of the link m came on (spec §13.2, §18.3): net_tls when no AP key made its
 * TLS handshake; cert_revoked for a revoked AP's. */
#define ta_refuses_link(m) (m.link != AP_ || REVOKED(AP_))

/* The TA takes link message m (after its admission and freshness checks): the link properties. */
inline ta_takes_link(m) {   /* acted: the TA's ghost array of link times */
  if :: acted[m.lt] -> BREAK(P_LINK_ONCE) :: else -> acted[m.lt] = true fi;
  if :: m.link != AP_ -> BREAK(P_LINK_AUTH) :: else -> skip fi;
  if :: REVOKED(AP_) -> BREAK(P_REVOKED_TA) :: else -> skip fi
}

/* The KPK of the TA's answer ans to req: a fresh one on success (and the pair it was made for), the
 * failure KPK on a refusal. */
inline ta_draws_kpk(ans, req, sm_, tp_, ok_, next_) {
  if
  :: ok_ && next_ < NK ->
       ans.kpk = next_; kpk_sm[next_] = sm_; kpk_tp[next_] = tp_;
       kpk_asked_by_atk[next_] = (req.origin == ATK); next_++
  :: else ->
       ans.kpk = FAILK;
       if :: sm_ == SM1 -> ta_refused_run = req.rn :: else -> skip fi
  fi
}
