"""Pure verification: functions of bytes, trust material and time that raise or return ``Verified*``.

Nothing here does I/O.  Every verifier raises ``VerificationFailed`` with a one-line reason, and returns a
``Verified*`` value only on success, so policy code can only ever be handed verified data.
"""
