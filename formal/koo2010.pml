/* koo2010: the paper's protocol as published (spec §8, §9), at the level of its messages.
 * Each role checks what spec §8 says it checks, in that order, and stops the run on a failure.
 * Ghost assignments (kpk_*, inst_*, sealed_*, BREAK) are the properties' bookkeeping only.
 */
/* CWEK = H(KPK || SM_ID || TP_ID) (spec §4.2): the same KPK for the same pair is the same CWEK. */
#define SAME_CWEK(a1, a2, b1, b2) true
/* CWEK from the KPK alone; HMAC_KEY also needs RANDHMAC. */
#define KNOWS_CWEK(k, a, b) (knows_kpk[k])
#define KNOWS_KEY(k, a, b) (knows_kpk[k] && knows_fresh[a])
#define PROFILE 1
#include "dcas.pml"

proctype SM() {
  Msg m, out;
  byte my_run = 0, tp = NONE, kpk = 0, x = 0, seq = 0, sent = 0, crl = 0, j;
  bool found, cut;
  byte used[4];          /* (KPK, TP) of every CWEK it installed, as KPK * 8 + TP */
  byte nused = 0;
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
  clear(out); out.kind = tp_cert_req; out.sm = SM1; out.iss = TA_;
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
  :: m.kind == tp_cert_rsp && m.iss == TA_ && IS_TP(m.tp) && !LISTS(crl, m.tp) -> tp = m.tp   /* Cert(TP) verifies, not on the CRL */
  :: else -> goto stopped
  fi;
  takes(m);
  clear(out); out.kind = key_req_sm; out.sm = SM1; out.tp = tp; out.iss = TA_; out.to = AP_;
  out.signer = SM1; out.made = now; out.rn = my_run; out.origin = SM1;
  wire!AP_, out;
  }
response:
  atomic {
  to_sm?m;
  if :: m.prof != PROFILE -> goto stopped :: else -> skip fi;
  if
  :: m.kind == power_up -> goto start
  :: m.kind == announce -> sm_reads_crl(m, crl, tp, cut); if :: cut -> goto stopped :: else -> goto response fi
  :: m.kind == key_rsp_ap && m.signer == AP_ && m.to == SM1 && m.kpk != 0 ->  /* AP's signature, decrypts, TA-signed KPK */
       takes(m);
       if
       :: m.kpk == FAILK ->                        /* pairing_refused */
            printf("SM1 stops: pairing refused\n");
            if
            :: ta_refused_run != my_run -> BREAK(P_REFUSAL)
            :: else -> skip
            fi;
            goto stopped
       :: else -> kpk = m.kpk
       fi
  :: else -> goto stopped
  fi;
  j = 0;
  do
  :: j < nused -> if :: used[j] == kpk * 8 + tp -> BREAK(P_NEW_KEYS) :: else -> skip fi; j++
  :: else -> break
  od;
  if :: nused < 4 -> used[nused] = kpk * 8 + tp; nused++ :: else -> skip fi;
  draw(x);                                         /* RANDHMAC */
  clear(out); out.kind = cwek_info; out.kpk = kpk; out.x = x; out.to = tp; out.signer = SM1;
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
  :: m.kind == cwek_cnfm && m.signer == tp && m.to == SM1 && m.kpk == kpk && m.x == x -> takes(m)
  :: else -> goto stopped
  fi;
  sm_agrees(tp, kpk, x, 0, j, found);
  seq = 0; sent = 0;
  sm_seals(kpk, x, 0, j);
  }
  do                                               /* established: seals ControlWords */
  :: atomic { sent < CW_PER_RUN && cw_count < MAXCW ->
       cw_channel_check(SM1, tp);
       atomic { cw_count++; seq++; sent++ };
       clear(out); out.kind = control_word; out.kpk = kpk; out.x = x; out.y = seq; out.rn = cw_count;
       out.origin = SM1; out.made = now;
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
  byte peer = NONE, k = 0, a = 0, seq = 0, last = 0, crl = 0, kpeer = NONE, j;
  bool running = false;
  do
  :: atomic { to_tp[i]?m ->
       if
       :: m.prof != PROFILE -> running = false     /* profile_mismatch: a run stops */
       :: m.kind == announce -> tp_reads_crl(me, m, crl, k, kpeer)
       :: m.prof == PROFILE && m.kind == tp_cert_req ->   /* any state: a new run */
            running = false;
            if
            :: m.iss == TA_ && IS_SM(m.sm) && !LISTS(crl, me) && !LISTS(crl, m.sm) ->   /* Cert(SM); cert_revoked */
                 if :: m.iss != TA_ -> BREAK(P_CERTIFIED) :: else -> skip fi;
                 takes(m);
                 peer = m.sm; running = true; tp_answered[i] = tp_answered[i] | (1 << m.sm);
                 clear(out); out.kind = tp_cert_rsp; out.tp = me; out.iss = TA_; out.made = now;
                 out.rn = m.rn; out.origin = me;
                 wire!(BUS_A + i), out
            :: else -> skip                        /* cert_* */
            fi
       :: m.prof == PROFILE && m.kind == cwek_info && running ->
            running = false;
            if
            :: m.signer == peer && m.to == me && m.kpk != 0 && m.kpk != FAILK && !LISTS(crl, me) && !LISTS(crl, peer) ->
                 /* the SM's signature, decrypts, the TA's signature on KPK, not the failure KPK; neither end revoked */
                 takes(m);
                 BREAK(P_JOINT);                   /* HMAC_KEY is the SM's RANDHMAC alone; the TP adds nothing */
                 k = m.kpk; a = m.x; last = 0; seq = 0; remember_keys_peer(kpeer, peer);
                 tp_installs(i, me, peer, k, a, 0, j);
                 clear(out); out.kind = cwek_cnfm; out.kpk = k; out.x = a; out.to = peer; out.signer = me;
                 out.made = now; out.rn = m.rn; out.origin = me;
                 wire!(BUS_A + i), out
            :: else -> skip
            fi
       :: m.kind == control_word && k != 0 ->
            if
            :: m.kpk == k && m.x == a && m.y > seq ->    /* the MAC, then the sequence */
                 seq = m.y; tp_takes_cw(m, last, me, kpeer)
            :: else -> skip                        /* mac_invalid, cw_replayed */
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
       :: m.prof == PROFILE && m.kind == key_req_sm && m.iss == TA_ && IS_SM(m.signer) && m.to == AP_ && !LISTS(crl, m.signer) ->
            /* Cert(SM) not on the CRL, chains to the TA; the SM's signature; the KeyPairingID decrypts */
            if
            :: m.sm == m.signer ->                 /* the KeyPairingID's SM_ID is the certificate's */
                 takes(m); copy(out, m); out.kind = key_req_ap; out.signer = AP_; out.inner = m.signer;
                 out.to = TA_; pending[m.signer] = true;
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
       :: m.kind == key_rsp_ta && pending[m.sm] && m.signer == TA_ && m.to == AP_ ->
            pending[m.sm] = false;
            if :: m.kpk != FAILK -> BREAK(P_AP_BLIND) :: else -> skip fi;  /* it decrypts the KPK */
            clear(out); out.kind = key_rsp_ap; out.kpk = m.kpk; out.signer = AP_; out.to = m.sm;
            out.made = now; out.rn = m.rn; out.origin = AP_;
            wire!(m.sm == SM1 -> NET_SM : m.sm), out
       :: else -> skip
       fi }
  od
}

proctype TA() {
  Msg m, out;
  byte next_kpk = 1;
  bool ok, fresh_ok;
  bool acted[32];        /* ghost: the AP link times it acted on */
  byte s, t;
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
            :: m.kind == key_req_ap && IS_SM(m.sm) && IS_TP(m.tp) ->  /* decrypts; both registered */
                 s = m.sm; t = m.tp;
                 if
                 :: REVOKED(s) || REVOKED(t) -> skip    /* cert_revoked: an error, no KeyResponse (spec §18.3) */
                 :: else ->
                      takes(m);
                      ta_validates(m, s, t, ok);
                      clear(out); out.kind = key_rsp_ta; out.sm = m.inner; out.to = AP_; out.signer = TA_;
                      out.rn = m.rn; out.made = now; out.origin = TA_;
                      ta_draws_kpk(out, m, s, t, ok, next_kpk);
                      ta_ap!out
                 fi
            :: else -> skip                              /* unknown_device */
            fi
       fi }
  od
}

/* What the attacker learns from a message it carries: a KPK or RANDHMAC encrypted to a key it holds. */
inline learn(m, j) {
  if
  :: HOLDS_PRV(m.to) && m.kpk != 0 && m.kpk != FAILK && m.kind != control_word && m.kind != cwek_cnfm ->
       knows_kpk[m.kpk] = true
  :: else -> skip
  fi;
  if
  :: HOLDS_PRV(m.to) && m.kind == cwek_info -> knows_fresh[m.x] = true
  :: else -> skip
  fi;
  check_secret(j)
}

/* A message of the attacker's own making, with the keys it holds (koo2010 signs no certificate
 * exchange, so any TP's public certificate can be presented). */
inline craft(c, d, k, a) {
  clear(c); c.origin = ATK; c.made = now;
  if
  :: nrec > 0 -> pick(a); copy(c, rec[a]); any_destination(d);   /* a recorded message re-signed as its SM */
       if :: c.kind != control_word -> c.signer = SMX; c.origin = ATK :: else -> skip fi
  :: c.kind = tp_cert_req; c.sm = SM1; c.iss = ATK; any_destination(d)        /* a forged SM certificate */
  :: c.kind = tp_cert_req; c.sm = SMX; c.iss = TA_; any_destination(d)        /* its own SM */
  :: HOLDS_PRV(SM1) -> c.kind = tp_cert_req; c.sm = SM1; c.iss = TA_; any_destination(d)
  :: c.kind = tp_cert_rsp; c.iss = TA_;                                       /* any TP's certificate */
       if :: c.tp = TP1 :: c.tp = TP2 fi; any_destination(d)
  :: c.kind = key_req_sm; c.iss = TA_; c.to = AP_; c.signer = SMX;            /* as its own SM, any pair */
       if :: c.sm = SMX :: c.sm = SM1 fi;
       if :: c.tp = TP1 :: c.tp = TP2 fi; d = AP_
  :: HOLDS_PRV(SM1) -> c.kind = key_req_sm; c.iss = TA_; c.to = AP_; c.signer = SM1; c.sm = SM1;
       if :: c.tp = TP1 :: c.tp = TP2 fi; d = AP_
  :: ANY_KPK -> known_kpk(k); c.kind = cwek_info; c.kpk = k; c.x = ATK_VALUE;          /* an SM it holds imposes keys */
       if :: c.signer = SMX :: HOLDS_PRV(SM1) -> c.signer = SM1 fi;
       if :: c.to = TP1 :: c.to = TP2 fi; d = c.to
  :: ANY_KPK -> known_kpk(k); known_fresh(a); c.kind = control_word; c.kpk = k; c.x = a; c.y = 7;
       if :: d = TP1 :: d = TP2 fi
  :: ANY_KPK -> known_kpk(k); known_fresh(a); c.kind = cwek_cnfm; c.kpk = k; c.x = a; c.to = SM1;
       if :: HOLDS_PRV(TP1) -> c.signer = TP1 :: HOLDS_PRV(TP2) -> c.signer = TP2 :: else -> c.signer = ATK fi; d = BUS_OF(box)
  fi
}

#include "world.pml"
