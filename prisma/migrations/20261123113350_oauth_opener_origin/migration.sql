-- AlterTable
ALTER TABLE "OAuthAuthorization" ADD COLUMN     "openerOrigin" TEXT;

