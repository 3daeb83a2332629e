-- CreateTable
CREATE TABLE "EncryptionKeyCheck" (
    "keyId" TEXT NOT NULL,
    "ciphertext" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "EncryptionKeyCheck_pkey" PRIMARY KEY ("keyId")
);

