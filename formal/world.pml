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
  :: wire?d, m ->
       remember(d, m);
       learn(m, j);
       if
       :: deliver(d, m)
       :: ACTS_ON(d) && injected < MAXINJ -> injected++                       /* dropped */
       :: ACTS_ON(d) && injected < MAXINJ && nrec > 1 -> injected++; pick(i); /* substituted */
            copy(c, rec[i]); deliver(d, c)
       :: ACTS_ON(d) && injected < MAXINJ && nrec > 1 -> injected++; pick(i); /* one sent before it */
            copy(c, rec[i]); deliver(d, c); deliver(d, m)
       fi
  :: timeout && injected < MAXINJ && nrec > 0 -> injected++; pick(i);         /* sent again */
       copy(c, rec[i]);
       if
       :: ACTS_ON(rec_to[i]) -> d = rec_to[i]
       :: any_destination(d)
       fi;
       deliver(d, c)
  :: timeout && injected < MAXINJ -> injected++; craft(c, d, k, a); deliver(d, c)
  :: leaked && !relearned -> relearned = true;                                /* a key leaked: read the recording again */
       i = 0;
       do
       :: i < nrec -> copy(c, rec[i]); learn(c, j); i++
       :: else -> break
       od
  od
}

proctype World() {
  Msg m;
  byte steps = 0;
  clear(m);
  m.kind = power_up;
  to_sm!m;
  do
  :: timeout && steps < MAXSTEPS ->
       steps++;
       if
#ifdef MOVES
       :: box == 0 && first_k != 0 ->     /* SM1, paired, taken to box B: box A's host left the network */
            box = 1; m.kind = presence; m.sm = SM1; m.ok = 0; to_ap!m; m.kind = power_up; to_sm!m
#endif
#ifdef REBOOTS
       :: first_k != 0 ->                  /* a power cut: the host's connection ends, it starts again */
            m.kind = presence; m.sm = SM1; m.ok = 0; to_ap!m; m.kind = power_up; to_sm!m
#endif
#ifdef POWER_UPS
       :: m.kind = power_up; to_sm!m       /* a power-up with no report to the AP first */
#endif
#ifdef LAPSES
       :: d_step { now++; present[SM1] = false; present[SMX] = false }  /* a period passes */
#endif
#if defined(LEAK_SM1) || defined(LEAK_TP1) || defined(LEAK_AP)
#ifndef LEAK_LATER
       :: first_k != 0 && !leaked -> leaked = true   /* the key leaks from a paired box */
#endif
#endif
#ifdef LEAK_OLD
       :: first_k != 0 && !knows_kpk[first_k] ->     /* one old run's CWEK and HMAC_KEY leak */
            knows_kpk[first_k] = true; knows_fresh[first_a] = true
#endif
       :: else -> steps = MAXSTEPS
       fi
#ifdef LEAK_LATER
  :: timeout && !leaked -> leaked = true; steps = MAXSTEPS  /* after every run, the key leaks */
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
