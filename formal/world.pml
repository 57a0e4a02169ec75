/* The world and the attacker, for both profiles (included last by koo2010.pml and hardened1.pml,
 * which define the roles, learn(m) and craft(c, d)).
 *
 * The world powers SM1 up in box A, then, when nothing else can move (`timeout`: between runs, or
 * with a run stalled), takes up to MAXSTEPS of the steps its scenario allows: move SM1 to box B,
 * reboot it, let a period pass (leases lapse, windows close), leak a key. The attacker carries every
 * message of the host-AP link and of both buses; where its scenario lets it act (-DNET, -DBUS) it
 * may drop a message or put any recorded one in its place, and when nothing else can move it may
 * send a recorded message again, to its destination or another, or one of its own making.
 */

proctype Attacker() {
  byte d, i, j, k, a;
  Msg m, c;
  knows_fresh[ATK_VALUE] = true;
  do
  :: atomic { wire?d, m ->
       remember(d, m);
       learn(m, j);
       if
       :: printf("attacker carries"); say(m, d); deliver(d, m)
       :: ACTS_ON(d) && injected < MAXINJ -> injected++; printf("attacker DROPS"); say(m, d)
       :: ACTS_ON(d) && injected < MAXINJ && nrec > 1 -> injected++; pick(i);
            copy(c, rec[i]); printf("attacker DROPS"); say(m, d); printf("attacker SUBSTITUTES recorded"); say(c, d); deliver(d, c)
       :: ACTS_ON(d) && injected < MAXINJ && nrec > 1 -> injected++; pick(i);
            copy(c, rec[i]); printf("attacker INSERTS recorded"); say(c, d); deliver(d, c); printf("attacker carries"); say(m, d); deliver(d, m)
       fi }
  :: atomic { timeout && injected < MAXINJ && nrec > 0 -> injected++; pick(i);         /* sent again */
       copy(c, rec[i]);
       if
       :: ACTS_ON(rec_to[i]) -> d = rec_to[i]
       :: any_destination(d)
       fi;
       printf("attacker REPLAYS recorded"); say(c, d); deliver(d, c) }
  :: atomic { timeout && injected < MAXINJ -> injected++; craft(c, d, k, a); printf("attacker SENDS its own"); say(c, d); deliver(d, c) }
#ifdef DOWNGRADE
  :: atomic { timeout && injected < MAXINJ && nrec > 0 -> pick(i);      /* a recorded handshake message in the other profile's type */
       copy(c, rec[i]);
       if
       :: HANDSHAKE(c.kind) -> injected++; c.prof = OTHER_PROFILE; any_destination(d);
            printf("attacker SENDS the other profile's"); say(c, d); deliver(d, c)
       :: else -> skip
       fi }
#endif
#ifdef OUTSIDER
  :: atomic { timeout && injected < MAXINJ -> injected++;              /* a link to the TA of its own: its key, the AP's ID */
       clear(c);
       if
       :: nrec > 0 -> pick(i); copy(c, rec[i]);                        /* a recorded message, the AP's own signature kept */
            if :: c.kind == key_req_sm -> c.kind = key_req_ap; c.inner = c.signer; c.signer = ATK :: else -> skip fi
       :: c.kind = presence; c.sm = SM1; c.ok = 0; c.signer = ATK       /* SM1's host left */
       fi;
       c.link = ATK; c.lt = ap_clock + 1; c.origin = ATK; c.made = now;
       printf("attacker SENDS on a link of its own"); say(c, AP_LINK); deliver(AP_LINK, c) }
#endif
  :: atomic { leaked && !relearned -> relearned = true;                                /* a key leaked: read the recording again */
       i = 0;
       do
       :: i < nrec -> copy(c, rec[i]); learn(c, j); i++
       :: else -> break
       od }
  od
}

proctype World() {
  Msg m;
  byte steps = 0;
  clear(m);
#ifdef CRL1
  m.kind = announce; m.crl = 1; to_ap!m;         /* the AP's first CRL, which lists no one */
  clear(m);
#endif
  m.kind = power_up;
  to_sm!m;
  do
  :: atomic { timeout && steps < MAXSTEPS ->
       steps++;
       if
#ifdef MOVES
       :: box == 0 && first_k != 0 ->     /* SM1, paired, taken to box B: box A's host left the network */
            printf("world: SM1 moves to box B\n"); box = 1; m.kind = presence; m.sm = SM1; m.ok = 0; to_ap!m; m.kind = power_up; to_sm!m
#endif
#ifdef REBOOTS
       :: first_k != 0 ->                  /* a power cut: the host's connection ends, it starts again */
            printf("world: box A reboots\n"); m.kind = presence; m.sm = SM1; m.ok = 0; to_ap!m; m.kind = power_up; to_sm!m
#endif
#ifdef POWER_UPS
       :: m.kind = power_up; to_sm!m       /* a power-up with no report to the AP first */
#endif
#ifdef LAPSES
       :: printf("world: a period passes\n"); d_step { now++; present[SM1] = false; present[SMX] = false }  /* a period passes */
#endif
#if defined(LEAK_SM1) || defined(LEAK_TP1) || defined(LEAK_AP)
#if !defined(LEAK_LATER)
       :: first_k != 0 && !leaked -> leaked = true; printf("world: the key leaks\n")   /* the key leaks from a paired box */
#endif
#endif
#ifdef LEAK_OLD
       :: nsealed >= 2 && !knows_kpk[first_k] ->     /* once replaced by a second run's, the first run's keys leak */
            knows_kpk[first_k] = true; knows_fresh[first_a] = true; printf("world: SM1's first keys leak\n")
#endif
       :: else -> steps = MAXSTEPS
       fi }
#ifdef REVOCATION
  :: atomic { crl_now == 1 && first_k != 0 ->     /* once SM1 has sealed, the operator revokes REVOKE: CRL 2 */
       crl_now = 2; printf("world: the operator revokes "); name(REVOKE); printf("\n");
#ifdef AP_GETS_CRL
       clear(m); m.kind = announce; m.crl = 2; to_ap!m
#endif
     }
#endif
#ifdef LEAK_LATER
  :: atomic { timeout && !leaked -> leaked = true; steps = MAXSTEPS; printf("world: the key leaks\n") }
#endif
  od
}

init {
  atomic {
    run World();
    run SM();
    run TP(TP1, 0);
    run TP(TP2, 1);
    run AP();
    run TA();
    run Attacker()
  }
}
