/* hardened1: spec §17, at the level of its messages. Each role checks what §17.3 says it checks,
 * in that order, and stops the run on a failure. Ghost assignments (kpk_*, inst_*, sealed_*,
 * BREAK) are the properties' bookkeeping only.
 *
 * The TP's nonce N_TP and its X25519 value E_TP are fresh in the same run and signed together
 * (step 2): one fresh value, `y`, stands for both. A key is (KPK, E_SM, E_TP): HKDF over the KPK,
 * the X25519 secret of the two values, and the transcript, whose every other part both ends check.
 */

/* A key is the same only if both X25519 values are. */
#define SAME_CWEK(a1, a2, b1, b2) ((a1) == (a2) && (b1) == (b2))
/* The KPK and the X25519 secret of one of the two values (whoever drew it holds it). */
#define KNOWS_CWEK(k, a, b) (knows_kpk[k] && (knows_fresh[a] || knows_fresh[b]))
#define KNOWS_KEY(k, a, b) KNOWS_CWEK(k, a, b)
#define PROFILE 2
#include "dcas.pml"

/* The statement (type 0x15): TA-signed, so only the TA makes one. */
inline copy_statement(dst, src) {
  dst.sm = src.sm; dst.tp = src.tp; dst.x = src.x; dst.y = src.y; dst.kpk = src.kpk; dst.ok = src.ok; dst.t = src.t
}

proctype SM() {
  Msg m, out;
  byte my_run = 0, tp = NONE, kpk = 0, nsm = 0, ntp = 0, esm = 0, seq = 0, sent = 0, crl = 0, j;
  bool found, cut;
idle:
  atomic {
  to_sm?m;
  if
  :: m.kind == power_up -> goto start
  :: m.kind == announce -> sm_reads_crl(m, crl, tp, cut); goto idle
  :: else -> goto idle
  fi;
  }
start:
  atomic {
  my_run++; tp = NONE; kpk = 0;
  if :: LISTS(crl, SM1) -> goto stopped :: else -> skip fi;   /* cert_revoked: a revoked SM starts no run */
  draw(nsm);
  clear(out); out.kind = tp_cert_req; out.sm = SM1; out.iss = TA_; out.x = nsm;
  out.made = now; out.rn = my_run; out.origin = SM1;
  wire!TP_OF(box), out;
  }
hello:
  atomic {
  to_sm?m;
  if :: m.prof != PROFILE -> goto stopped :: else -> skip fi;   /* profile_mismatch */
  if
  :: m.kind == power_up -> goto start
  :: m.kind == announce -> sm_reads_crl(m, crl, tp, cut); if :: cut -> goto stopped :: else -> goto hello fi
  :: m.kind == tp_cert_rsp && m.iss == TA_ && IS_TP(m.tp) && !LISTS(crl, m.tp) && m.sm == SM1 && m.x == nsm &&
     m.signer == m.tp ->
       takes(m); tp = m.tp; ntp = m.y             /* Cert(TP), not on the CRL; names this SM; this run's N_SM; the TP's signature */
  :: else -> goto stopped
  fi;
  clear(out); out.kind = key_req_sm; out.sm = m.sm; out.tp = m.tp; out.x = m.x; out.y = m.y;
  out.hello = m.signer; out.tpiss = m.iss; out.iss = TA_; out.signer = SM1; out.t = now;
  out.made = now; out.rn = my_run; out.origin = SM1;
  wire!AP_, out;
  }
response:
  atomic {
  to_sm?m;
  if :: m.prof != PROFILE -> goto stopped :: else -> skip fi;
  if
  :: m.kind == power_up -> goto start
  :: m.kind == announce -> sm_reads_crl(m, crl, tp, cut); if :: cut -> goto stopped :: else -> goto response fi
  :: m.kind == key_rsp_ap && m.signer == AP_ && m.sm == SM1 && m.tp == tp && m.x == nsm && m.y == ntp && m.t >= now ->
       /* the AP's and the TA's signatures; names this SM and this run's TP; both nonces; not_after */
       takes(m);
       if
       :: m.ok != 1 ->                             /* pairing_refused */
            printf("SM1 stops: pairing refused\n");
            if
            :: ta_refused_run != my_run -> BREAK(P_REFUSAL)
            :: else -> skip
            fi;
            goto stopped
       :: else -> kpk = m.kpk                      /* kpk_for_sm decrypts */
       fi
  :: else -> goto stopped
  fi;
  draw(esm);                                       /* e_SM; E_SM */
  clear(out); out.kind = cwek_info; copy_statement(out, m); out.e = esm; out.conf = 1; out.signer = SM1;
  out.made = now; out.rn = my_run; out.origin = SM1;
  wire!TP_OF(box), out;
  }
confirmation:
  atomic {
  to_sm?m;
  if :: m.prof != PROFILE -> goto stopped :: else -> skip fi;
  if
  :: m.kind == power_up -> goto start
  :: m.kind == announce -> sm_reads_crl(m, crl, tp, cut); if :: cut -> goto stopped :: else -> goto confirmation fi
  :: m.kind == cwek_cnfm && m.kpk == kpk && m.e == esm && m.y == ntp -> takes(m)  /* the TP's confirmation */
  :: else -> goto stopped
  fi;
  sm_agrees(tp, kpk, esm, ntp, j, found);
  seq = 0; sent = 0;
  sm_seals(kpk, esm, ntp, j);
  }
  do                                               /* established: seals ControlWords */
  :: atomic { sent < CW_PER_RUN && cw_count < MAXCW ->
       cw_channel_check(SM1, tp);
       atomic { cw_count++; seq++; sent++ };
       clear(out); out.kind = control_word; out.kpk = kpk; out.x = esm; out.e = ntp; out.y = seq;
       out.rn = cw_count; out.origin = SM1; out.made = now;
       wire!TP_OF(box), out }
  :: atomic { to_sm?m ->
       if
       :: m.kind == power_up -> goto start
       :: m.kind == announce -> sm_reads_crl(m, crl, tp, cut); if :: cut -> goto stopped :: else -> skip fi
       :: else -> skip                             /* refused outside a run: nothing changes */
       fi }
  od;
stopped:
  do
  :: atomic { to_sm?m ->
       if
       :: m.kind == power_up -> goto start
       :: m.kind == announce -> sm_reads_crl(m, crl, tp, cut)
       :: else -> skip
       fi }
  od
}

proctype TP(byte me; byte i) {
  Msg m, out;
  byte peer = NONE, nsm = 0, ntp = 0, k = 0, a = 0, b = 0, seq = 0, last = 0, crl = 0, kpeer = NONE, j;
  bool running = false;
  do
  :: atomic { to_tp[i]?m ->
       if
       :: m.prof != PROFILE -> running = false     /* profile_mismatch: a run stops */
       :: m.kind == announce -> tp_reads_crl(me, m, crl, k, kpeer)
       :: m.prof == PROFILE && m.kind == tp_cert_req ->   /* any state: a new run; the working keys stay */
            running = false;
            if
            :: m.iss == TA_ && IS_SM(m.sm) && !LISTS(crl, me) && !LISTS(crl, m.sm) ->   /* Cert(SM); cert_revoked */
                 if :: m.iss != TA_ -> BREAK(P_CERTIFIED) :: else -> skip fi;
                 takes(m);
                 peer = m.sm; nsm = m.x; running = true; tp_answered[i] = tp_answered[i] | (1 << m.sm);
                 draw(ntp);
                 if :: OWNS(me) -> knows_fresh[ntp] = true :: else -> skip fi;
                 clear(out); out.kind = tp_cert_rsp; out.sm = peer; out.x = nsm; out.y = ntp; out.tp = me;
                 out.iss = TA_; out.signer = me; out.made = now; out.rn = m.rn; out.origin = me;
                 wire!(BUS_A + i), out
            :: else -> skip                        /* cert_* */
            fi
       :: m.prof == PROFILE && m.kind == cwek_info && running ->
            running = false;                       /* e_TP is wiped with the run, whatever the outcome */
            if
            :: m.signer == peer && m.sm == peer && m.tp == me && m.x == nsm && m.y == ntp && m.t >= now &&
               m.ok == 1 && m.conf == 1 && !LISTS(crl, me) && !LISTS(crl, peer) ->
                 /* the SM's signature; the statement's: names this run's SM and this TP, both nonces,
                    not_after, paired; kpk_for_tp decrypts; the SM's confirmation under this run's keys;
                    neither end revoked */
                 takes(m);
                 k = m.kpk; a = m.e; b = ntp; last = 0; seq = 0; remember_keys_peer(kpeer, peer);
                 tp_installs(i, me, peer, k, a, b, j);
                 clear(out); out.kind = cwek_cnfm; out.kpk = k; out.e = a; out.y = b; out.signer = me;
                 out.made = now; out.rn = m.rn; out.origin = me;
                 wire!(BUS_A + i), out
            :: else -> skip
            fi
       :: m.kind == control_word && k != 0 ->
            if
            :: m.kpk == k && m.x == a && m.e == b && m.y > seq ->  /* the MAC, then the sequence */
                 seq = m.y; tp_takes_cw(m, last, me, kpeer)
            :: else -> skip
            fi
       :: else -> running = false                  /* unexpected_message */
       fi }
  od
}

proctype AP() {
  Msg m, out;
  bool pending[8];
  byte crl = 0;
  do
  :: atomic { to_ap?m ->
       if
       :: m.prof != PROFILE -> skip                /* profile_mismatch */
       :: m.kind == announce -> ap_announces(m, crl, out)
       :: m.prof == PROFILE && m.kind == key_req_sm && m.iss == TA_ && IS_SM(m.signer) && !LISTS(crl, m.signer) ->
            /* Cert(SM) not on the CRL; the SM's signature */
            if
            :: m.sm == m.signer ->                 /* tp_hello names this SM */
                 takes(m); copy(out, m); out.kind = key_req_ap; out.inner = m.signer; out.signer = AP_;
                 pending[m.signer] = true;
                 ap_sends_to_ta(out)
            :: else -> skip                        /* id_mismatch */
            fi
       :: m.kind == presence ->
            clear(out); out.kind = presence; out.sm = m.sm; out.ok = m.ok; out.signer = AP_;
            ap_sends_to_ta(out)
       :: else -> skip
       fi }
  :: atomic { ta_ap?m ->
       if
       :: m.kind == key_rsp_ta && pending[m.sm] ->  /* the TA's signature; names the session's SM */
            pending[m.sm] = false;                 /* the KPK is encrypted to SM and TP: the AP reads the verdict only */
            copy(out, m); out.kind = key_rsp_ap; out.signer = AP_; out.origin = AP_;
            wire!(m.sm == SM1 -> NET_SM : m.sm), out
       :: else -> skip
       fi }
  od
}

proctype TA() {
  Msg m, out;
  byte next_kpk = 1, s, t;
  bool ok, fresh_ok;
  bool acted[32];        /* ghost: the AP link times it acted on */
  do
  :: atomic { ap_ta?m ->
       fresh_ok = false;
       if :: !ta_refuses_link(m) -> take_ap_time(m, fresh_ok) :: else -> skip fi;   /* net_tls, cert_revoked */
       if
       :: !fresh_ok || m.signer != AP_ || m.prof != PROFILE -> skip   /* not_fresh, signature_invalid, profile_mismatch */
       :: else ->
            ta_takes_link(m);
            if
            :: m.kind == presence && m.ok == 0 -> s = m.sm; host_left(s)
            :: m.kind == key_req_ap && m.iss == TA_ && IS_SM(m.inner) && m.t == now &&
               m.tpiss == TA_ && IS_TP(m.tp) && m.hello == m.tp && m.sm == m.inner ->
                 /* Cert(SM), the SM's signature, its time; Cert(TP), the TP's signature, names the SM */
                 s = m.sm; t = m.tp;
                 if
                 :: REVOKED(s) || REVOKED(t) -> skip    /* cert_revoked: an error, no statement (spec §18.3) */
                 :: else ->
                      takes(m);
                      ta_validates(m, s, t, ok);
                      clear(out); out.kind = key_rsp_ta; copy_statement(out, m); out.t = now; out.signer = TA_;
                      out.rn = m.rn; out.made = now; out.origin = TA_;
                      ta_draws_kpk(out, m, s, t, ok, next_kpk);
                      out.ok = (out.kpk != FAILK -> 1 : 0);   /* the statement's verdict */
                      ta_ap!out
                 fi
            :: else -> skip                              /* cert_*, signature_invalid, not_fresh, id_mismatch, unknown_device */
            fi
       fi }
  od
}

/* A key (KPK, E_SM, E_TP) the attacker can derive: a KPK it holds, the X25519 secret of one value
 * and any public other. */
inline key_it_knows(kk, ka, kb, k, a) {
  known_kpk(k); kk = k;
  known_fresh(a);
  if
  :: ka = a; any_value(a); kb = a
  :: kb = a; any_value(a); ka = a
  fi
}

/* What the attacker learns from a message it carries: a statement's KPK, encrypted to its SM and
 * to its TP, when it holds either key. X25519 secrets never travel. */
inline learn(m, j) {
  if
  :: (m.kind == key_rsp_ap || m.kind == cwek_info) && (HOLDS_PRV(m.sm) || HOLDS_PRV(m.tp)) &&
     m.kpk != 0 && m.kpk != FAILK -> knows_kpk[m.kpk] = true
  :: else -> skip
  fi;
  check_secret(j)
}

/* A message of the attacker's own making, with the keys it holds and what it recorded. It cannot
 * make a statement (the TA's key) nor a signature of a key it does not hold. */
inline craft(c, d, k, a) {
  clear(c); c.origin = ATK; c.made = now;
  if
  :: nrec > 0 -> pick(a); copy(c, rec[a]); any_destination(d);   /* a recorded message re-signed as its SM */
       if :: c.kind != control_word -> c.signer = SMX; c.origin = ATK :: else -> skip fi
  :: c.kind = tp_cert_req; c.sm = SM1; c.iss = ATK; c.x = ATK_VALUE; any_destination(d)   /* a forged SM certificate */
  :: c.kind = tp_cert_req; c.sm = SMX; c.iss = TA_; c.x = ATK_VALUE; any_destination(d)
  :: HOLDS_PRV(SM1) -> c.kind = tp_cert_req; c.sm = SM1; c.iss = TA_; c.x = ATK_VALUE; any_destination(d)
  :: nrec > 0 ->                                   /* a TP answer it signs, to a recorded TPCertReq */
       pick(a); c.kind = tp_cert_rsp; c.sm = rec[a].sm; c.x = rec[a].x; c.y = ATK_VALUE; c.iss = TA_;
       if
       :: HOLDS_PRV(TP1) -> c.tp = TP1; c.signer = TP1
       :: HOLDS_PRV(TP2) -> c.tp = TP2; c.signer = TP2
       :: else -> c.tp = TP1; c.iss = ATK; c.signer = ATK   /* a certificate of its own for TP1's ID */
       fi;
       any_destination(d)
  :: nrec > 0 ->                                   /* a request it signs around a recorded TP answer */
       pick(a); c.kind = key_req_sm; c.sm = rec[a].sm; c.tp = rec[a].tp; c.x = rec[a].x; c.y = rec[a].y;
       c.hello = rec[a].signer; c.tpiss = rec[a].iss; c.iss = TA_; c.t = now;
       if :: c.signer = SMX :: HOLDS_PRV(SM1) -> c.signer = SM1 fi; d = AP_
  :: nrec > 0 ->                                   /* a CWEKGenInfo it signs around a recorded statement */
       pick(a); c.kind = cwek_info; copy_statement(c, rec[a]); c.e = ATK_VALUE;
       c.conf = (knows_kpk[c.kpk] -> 1 : 0);
       if :: c.signer = SMX :: HOLDS_PRV(SM1) -> c.signer = SM1 fi;
       if :: d = TP1 :: d = TP2 fi
  :: ANY_KPK -> c.kind = control_word; c.y = 7; key_it_knows(c.kpk, c.x, c.e, k, a);
       if :: d = TP1 :: d = TP2 fi
  :: ANY_KPK -> c.kind = cwek_cnfm; key_it_knows(c.kpk, c.e, c.y, k, a);  /* a MAC under a key it holds */
       c.signer = TP1; d = BUS_OF(box)
  fi
}

#include "world.pml"
